// Runs an example program as a child process, with its stdout and stderr collected by threads of our own,
// for tests that drive the examples the way a user would (arguments, environment, signals).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace beeline::test {

class child_process {
 public:
  /// Starts `argv[0]` with `argv`, the current environment plus `env` ("NAME=value" entries).
  child_process(std::vector<std::string> argv, std::vector<std::string> env = {});
  /// Kills the child (SIGKILL) if it still runs, and reaps it.
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The child's process id.
  pid_t pid() const noexcept { return pid_; }
  /// Sends a signal.
  void signal(int sig);
  /// Waits for the child to exit; its exit code (128 + signal if killed), or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  /// Waits until stderr contains `text`; false on timeout or if the child's stderr closed first.
  bool wait_for_stderr(const std::string& text, std::chrono::milliseconds timeout);

  /// All output so far (complete once `wait` returned an exit code).
  std::string out() const;
  std::string err() const;

 private:
  void collect(int fd, std::string& into);

  pid_t pid_ = -1;
  int status_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string out_, err_;
  bool err_closed_ = false;
  std::thread out_reader_, err_reader_;
};

}  // namespace beeline::test
