// The bounded multi-producer queue between finishing spans and the export worker.
#include "export/bounded_queue.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

using beeline::detail::bounded_queue;

TEST_CASE("queue: elements come out in the order they went in", "[queue]") {
  bounded_queue<int> q(8);
  for (int i = 1; i <= 8; ++i)
    REQUIRE(q.try_push(i));
  for (int i = 1; i <= 8; ++i) {
    int out = 0;
    REQUIRE(q.try_pop(out));
    CHECK(out == i);
  }
}

TEST_CASE("queue: pop on an empty queue returns false and leaves the output alone", "[queue]") {
  bounded_queue<int> q(4);
  int out = -1;
  CHECK_FALSE(q.try_pop(out));
  CHECK(out == -1);
  REQUIRE(q.try_push(5));
  REQUIRE(q.try_pop(out));
  CHECK(out == 5);
  out = -1;
  CHECK_FALSE(q.try_pop(out));
  CHECK(out == -1);
}

TEST_CASE("queue: a full queue refuses a push at once and accepts again after a pop", "[queue]") {
  bounded_queue<int> q(4);
  for (int i = 0; i < 4; ++i)
    REQUIRE(q.try_push(i));
  CHECK_FALSE(q.try_push(100));
  CHECK_FALSE(q.try_push(101));
  int out = -1;
  REQUIRE(q.try_pop(out));
  CHECK(out == 0);
  CHECK(q.try_push(4));
  CHECK_FALSE(q.try_push(102));
  // The refused values never appear.
  std::vector<int> rest;
  while (q.try_pop(out))
    rest.push_back(out);
  CHECK(rest == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("queue: capacity is rounded up to a power of two, at least 2", "[queue]") {
  CHECK(bounded_queue<int>(0).capacity() == 2);
  CHECK(bounded_queue<int>(1).capacity() == 2);
  CHECK(bounded_queue<int>(2).capacity() == 2);
  CHECK(bounded_queue<int>(3).capacity() == 4);
  CHECK(bounded_queue<int>(5).capacity() == 8);
  CHECK(bounded_queue<int>(16).capacity() == 16);
  CHECK(bounded_queue<int>(17).capacity() == 32);
  CHECK(bounded_queue<int>(1000).capacity() == 1024);
  CHECK(bounded_queue<int>(16384).capacity() == 16384);
}

TEST_CASE("queue: a rounded-up queue holds exactly its capacity", "[queue]") {
  bounded_queue<int> q(5);  // rounded to 8
  int pushed = 0;
  while (q.try_push(pushed))
    ++pushed;
  CHECK(pushed == 8);
  bounded_queue<int> tiny(1);  // rounded to 2
  CHECK(tiny.try_push(1));
  CHECK(tiny.try_push(2));
  CHECK_FALSE(tiny.try_push(3));
}

TEST_CASE("queue: positions count successful pushes and pops only", "[queue]") {
  bounded_queue<int> q(4);
  CHECK(q.enqueue_position() == 0);
  CHECK(q.dequeue_position() == 0);
  for (int i = 0; i < 4; ++i)
    REQUIRE(q.try_push(i));
  CHECK_FALSE(q.try_push(9));
  CHECK(q.enqueue_position() == 4);  // the refused push reserved nothing
  CHECK(q.dequeue_position() == 0);
  int out;
  REQUIRE(q.try_pop(out));
  REQUIRE(q.try_pop(out));
  CHECK(q.dequeue_position() == 2);
  REQUIRE(q.try_pop(out));
  REQUIRE(q.try_pop(out));
  CHECK_FALSE(q.try_pop(out));  // the failed pop consumes no position
  CHECK(q.dequeue_position() == 4);
  CHECK(q.enqueue_position() - q.dequeue_position() == 0);
}

TEST_CASE("queue: positions keep growing and order holds across many wrap-arounds", "[queue]") {
  bounded_queue<std::uint64_t> q(4);
  std::uint64_t next_in = 0;
  std::uint64_t next_out = 0;
  for (int round = 0; round < 1000; ++round) {
    // Push 3, pop 2, and drain whenever full: the cells are reused many times over.
    for (int k = 0; k < 3; ++k)
      if (q.try_push(next_in)) ++next_in;
    for (int k = 0; k < 2; ++k) {
      std::uint64_t out;
      if (q.try_pop(out)) {
        REQUIRE(out == next_out);
        ++next_out;
      }
    }
    REQUIRE(q.enqueue_position() == next_in);
    REQUIRE(q.dequeue_position() == next_out);
    REQUIRE(q.enqueue_position() - q.dequeue_position() <= q.capacity());
  }
  std::uint64_t out;
  while (q.try_pop(out))
    REQUIRE(out == next_out++);
  CHECK(next_out == next_in);
  CHECK(q.enqueue_position() > 100 * q.capacity());
}

TEST_CASE("queue: pointers and structs pass through unchanged", "[queue]") {
  int a = 1;
  int b = 2;
  bounded_queue<int*> pq(2);
  REQUIRE(pq.try_push(&a));
  REQUIRE(pq.try_push(&b));
  int* p = nullptr;
  REQUIRE(pq.try_pop(p));
  CHECK(p == &a);
  REQUIRE(pq.try_pop(p));
  CHECK(p == &b);

  struct item {
    std::uint32_t id;
    double weight;
  };
  bounded_queue<item> sq(2);
  REQUIRE(sq.try_push({7, 0.5}));
  item it{};
  REQUIRE(sq.try_pop(it));
  CHECK(it.id == 7);
  CHECK(it.weight == 0.5);
}

TEST_CASE("queue: four producers and one consumer deliver every value exactly once", "[queue][concurrency]") {
  constexpr int producers = 4;
  constexpr std::uint64_t per_producer = 50'000;
  constexpr std::uint64_t total = producers * per_producer;
  bounded_queue<std::uint64_t> q(1024);  // small, so producers also hit the full queue

  std::atomic<bool> go{false};
  std::atomic<std::uint64_t> refused{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      while (!go.load(std::memory_order_acquire))
        std::this_thread::yield();
      for (std::uint64_t i = 0; i < per_producer; ++i) {
        const std::uint64_t v = (std::uint64_t(p) << 32) | i;
        while (!q.try_push(v)) {
          refused.fetch_add(1, std::memory_order_relaxed);
          std::this_thread::yield();
        }
      }
    });
  }

  std::vector<std::vector<std::uint8_t>> seen(producers, std::vector<std::uint8_t>(per_producer, 0));
  std::vector<std::uint64_t> next_expected(producers, 0);
  std::uint64_t received = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t out_of_range = 0;
  std::uint64_t reordered = 0;
  go.store(true, std::memory_order_release);
  while (received < total) {
    std::uint64_t v;
    if (!q.try_pop(v)) {
      std::this_thread::yield();
      continue;
    }
    ++received;
    const std::uint64_t p = v >> 32;
    const std::uint64_t i = v & 0xffffffffu;
    if (p >= producers || i >= per_producer) {
      ++out_of_range;
      continue;
    }
    if (seen[p][i]++) ++duplicates;
    // One producer's values are consumed in the order it pushed them.
    if (i != next_expected[p]) ++reordered;
    next_expected[p] = i + 1;
  }
  for (auto& t : threads)
    t.join();

  std::uint64_t missing = 0;
  for (const auto& s : seen)
    for (std::uint8_t c : s)
      missing += c == 0;
  INFO("refused pushes (retried): " << refused.load());
  CHECK(received == total);
  CHECK(out_of_range == 0);
  CHECK(duplicates == 0);
  CHECK(missing == 0);
  CHECK(reordered == 0);
  std::uint64_t extra;
  CHECK_FALSE(q.try_pop(extra));
  CHECK(q.enqueue_position() == total);
  CHECK(q.dequeue_position() == total);
}
