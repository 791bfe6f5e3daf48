#include "upstream/watchdog.h"

#include <poll.h>

#include <vector>

namespace signalbox {

Watchdog::Watch::~Watch() { wd_->Remove(this); }

Watchdog::Watchdog(std::chrono::milliseconds tick) : tick_(tick) {
  thread_ = std::thread([this] { Run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::unique_ptr<Watchdog::Watch> Watchdog::Add(TimePoint deadline, int client_fd,
                                               std::function<void(WatchReason)> fire,
                                               std::function<bool()> heartbeat,
                                               std::chrono::milliseconds heartbeat_every,
                                               TimePoint first_heartbeat) {
  std::unique_ptr<Watch> w(new Watch(this));
  w->SetDeadline(deadline);
  w->client_fd_ = client_fd;
  w->fire_ = std::move(fire);
  w->heartbeat_ = std::move(heartbeat);
  w->heartbeat_every_ = heartbeat_every;
  w->next_heartbeat_ = first_heartbeat;
  std::lock_guard<std::mutex> lk(mu_);
  watches_.insert(w.get());
  return w;
}

void Watchdog::Remove(Watch* w) {
  std::lock_guard<std::mutex> lk(mu_);
  watches_.erase(w);
}

size_t Watchdog::size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return watches_.size();
}

void Watchdog::Run() {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stop_) {
    cv_.wait_for(lk, tick_);
    if (stop_) break;
    lk.unlock();
    Check();
    lk.lock();
  }
}

void Watchdog::Check() {
  std::lock_guard<std::mutex> lk(mu_);
  if (watches_.empty()) return;
  auto now = Now();
  int64_t now_ns = now.time_since_epoch().count();
  std::vector<pollfd> fds;
  std::vector<Watch*> polled;
  for (Watch* w : watches_) {
    if (w->fired_.load() != 0) continue;
    if (fire_all_.load()) {
      w->fired_ = static_cast<int>(WatchReason::kShutdown);
      w->fire_(WatchReason::kShutdown);
      continue;
    }
    if (w->deadline_ns_.load(std::memory_order_relaxed) <= now_ns) {
      w->fired_ = static_cast<int>(WatchReason::kDeadline);
      w->fire_(WatchReason::kDeadline);
      continue;
    }
    if (w->heartbeat_ && w->heartbeat_every_.count() > 0 && now >= w->next_heartbeat_) {
      w->next_heartbeat_ = now + w->heartbeat_every_;
      if (!w->heartbeat_()) {
        w->fired_ = static_cast<int>(WatchReason::kClientGone);
        w->fire_(WatchReason::kClientGone);
        continue;
      }
    }
    if (w->client_fd_ >= 0) {
      fds.push_back({w->client_fd_, POLLRDHUP, 0});
      polled.push_back(w);
    }
  }
  if (fds.empty()) return;
  if (::poll(fds.data(), fds.size(), 0) <= 0) return;
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) {
      Watch* w = polled[i];
      w->fired_ = static_cast<int>(WatchReason::kClientGone);
      w->fire_(WatchReason::kClientGone);
    }
  }
}

}  // namespace signalbox
