#include "server/elastic_pool.h"

#include <unistd.h>

#include <thread>

namespace signalbox {
namespace {
thread_local bool t_shed = false;
}  // namespace

bool ElasticPool::InShedMode() { return t_shed; }

ElasticPool::ElasticPool(size_t min_threads, size_t max_threads,
                         std::chrono::milliseconds idle_exit)
    : min_threads_(min_threads),
      max_threads_(std::max(min_threads, max_threads)),
      idle_exit_(idle_exit) {
  std::lock_guard<std::mutex> lk(mu_);
  for (size_t i = 0; i < min_threads_; ++i) {
    ++threads_;
    std::thread([this] { Worker(); }).detach();
  }
}

ElasticPool::~ElasticPool() { shutdown(); }

void ElasticPool::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> lk(mu_);
  if (idle_ > jobs_.size()) {
    jobs_.push_back(std::move(fn));
    cv_.notify_one();
    return;
  }
  if (threads_ < max_threads_) {
    jobs_.push_back(std::move(fn));
    ++threads_;
    std::thread([this] { Worker(); }).detach();
    return;
  }
  // Saturated. A worker whose connection has no request in progress gives its thread
  // to the new connection: the oldest one is woken, closes, and picks this job up.
  if (!reclaimable_.empty()) {
    auto it = reclaimable_.begin();
    uint64_t one = 1;
    (void)!::write(it->second, &one, sizeof(one));
    reclaimable_.erase(it);
    ++reclaimed_total_;
    jobs_.push_back(std::move(fn));
    cv_.notify_one();
    return;
  }
  // Nothing to reclaim: hand the connection to the shedding thread, which refuses it.
  ++shed_total_;
  shed_jobs_.push_back(std::move(fn));
  if (!shed_running_) {
    shed_running_ = true;
    ++threads_;
    std::thread([this] { Shedder(); }).detach();
  } else {
    cv_.notify_all();
  }
}

void ElasticPool::Worker() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    ++idle_;
    bool got = cv_.wait_for(lk, idle_exit_, [&] { return !jobs_.empty() || shutdown_; });
    --idle_;
    if (jobs_.empty()) {
      if (shutdown_ || (!got && threads_ > min_threads_)) break;
      continue;
    }
    auto fn = std::move(jobs_.front());
    jobs_.pop_front();
    lk.unlock();
    fn();
    lk.lock();
  }
  --threads_;
  done_cv_.notify_all();
}

void ElasticPool::Shedder() {
  t_shed = true;
  std::unique_lock<std::mutex> lk(mu_);
  while (!shed_jobs_.empty()) {
    auto fn = std::move(shed_jobs_.front());
    shed_jobs_.pop_front();
    lk.unlock();
    fn();
    lk.lock();
  }
  shed_running_ = false;
  --threads_;
  done_cv_.notify_all();
}

void ElasticPool::shutdown() {
  std::unique_lock<std::mutex> lk(mu_);
  shutdown_ = true;
  cv_.notify_all();
  done_cv_.wait(lk, [&] { return threads_ == 0; });
}

uint64_t ElasticPool::AddReclaimable(int wake_fd) {
  std::lock_guard<std::mutex> lk(mu_);
  uint64_t ticket = next_ticket_++;
  reclaimable_.emplace(ticket, wake_fd);
  return ticket;
}

bool ElasticPool::RemoveReclaimable(uint64_t ticket) {
  std::lock_guard<std::mutex> lk(mu_);
  return reclaimable_.erase(ticket) == 1;
}

uint64_t ElasticPool::reclaimed_total() const {
  std::lock_guard<std::mutex> lk(mu_);
  return reclaimed_total_;
}

size_t ElasticPool::threads() const {
  std::lock_guard<std::mutex> lk(mu_);
  return threads_;
}

size_t ElasticPool::busy() const {
  std::lock_guard<std::mutex> lk(mu_);
  return threads_ - idle_;
}

uint64_t ElasticPool::shed_total() const {
  std::lock_guard<std::mutex> lk(mu_);
  return shed_total_;
}

}  // namespace signalbox
