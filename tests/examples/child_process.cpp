#include "child_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace beeline::test {

child_process::child_process(std::vector<std::string> argv, std::vector<std::string> env) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);

  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> environment;
  for (char** e = environ; *e; ++e)
    environment.emplace_back(*e);
  for (auto& e : env)
    environment.push_back(e);
  std::vector<char*> envp;
  for (auto& e : environment)
    envp.push_back(e.data());
  envp.push_back(nullptr);

  const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
  }
  out_reader_ = std::thread([this, fd = out_pipe[0]] { collect(fd, out_); });
  err_reader_ = std::thread([this, fd = err_pipe[0]] {
    collect(fd, err_);
    std::lock_guard lk(mutex_);
    err_closed_ = true;
    changed_.notify_all();
  });
}

child_process::~child_process() {
  if (status_ < 0 && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
  }
  if (out_reader_.joinable()) out_reader_.join();
  if (err_reader_.joinable()) err_reader_.join();
}

void child_process::collect(int fd, std::string& into) {
  char buf[8192];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard lk(mutex_);
    into.append(buf, static_cast<std::size_t>(n));
    changed_.notify_all();
  }
  close(fd);
}

void child_process::signal(int sig) {
  if (status_ < 0) ::kill(pid_, sig);
}

int child_process::wait(std::chrono::milliseconds timeout) {
  if (status_ >= 0) return status_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    const pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      if (out_reader_.joinable()) out_reader_.join();
      if (err_reader_.joinable()) err_reader_.join();
      return status_;
    }
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool child_process::wait_for_stderr(const std::string& text, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mutex_);
  return changed_.wait_for(lk, timeout, [&] {
    return err_.find(text) != std::string::npos || err_closed_;
  }) && err_.find(text) != std::string::npos;
}

std::string child_process::out() const {
  std::lock_guard lk(mutex_);
  return out_;
}

std::string child_process::err() const {
  std::lock_guard lk(mutex_);
  return err_;
}

}  // namespace beeline::test
