#include "protocols/sgc/qos_store.hpp"

namespace switchboard::protocols::sgc {

void qos_store::expire(clock::time_point now) {
  // The order queues may name keys released since; an entry counts only while its key is
  // stored with the same time.
  while (!pending_order_.empty()) {
    auto& [key, at] = pending_order_.front();
    auto it = pending_.find(key);
    const bool live = it != pending_.end() && it->second.at == at;
    if (live && pending_.size() <= options_.max_pending && now - at <= options_.pending_max_age)
      break;
    if (live) pending_.erase(it);
    pending_order_.pop_front();
  }
  while (!completed_order_.empty()) {
    auto& [key, at] = completed_order_.front();
    auto it = completed_.find(key);
    const bool live = it != completed_.end() && it->second == at;
    if (live && completed_.size() <= options_.completed_max_count &&
        now - at <= options_.completed_max_age)
      break;
    if (live) completed_.erase(it);
    completed_order_.pop_front();
  }
}

qos_store::stored qos_store::store(const std::string& key, std::string text,
                                   clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  expire(now);
  if (completed_.count(key)) return stored::already_completed;
  // A duplicate PUBLISH replaces the stored copy (2.8) but keeps its age, so that
  // pending_order_ holds one entry per key.
  auto [it, added] = pending_.try_emplace(key);
  it->second.text = std::move(text);
  if (added) {
    it->second.at = now;
    pending_order_.emplace_back(key, now);
  }
  expire(now);
  return stored::stored;
}

std::optional<std::string> qos_store::release(const std::string& key, clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  expire(now);
  auto it = pending_.find(key);
  if (it == pending_.end()) return std::nullopt;
  std::string text = std::move(it->second.text);
  pending_.erase(it);
  completed_[key] = now;
  completed_order_.emplace_back(key, now);
  expire(now);
  return text;
}

std::size_t qos_store::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pending_.size();
}

std::size_t qos_store::completed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return completed_.size();
}

}  // namespace switchboard::protocols::sgc
