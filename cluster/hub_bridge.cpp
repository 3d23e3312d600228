// hub_bridge.cpp: the hub's broadcasts across nodes (hub_bridge.hpp): HubEvents out on the
// hub's calls, HubEvents in delivered through the hub's local_* methods.
#include "cluster/hub_bridge.hpp"

#include "cluster/envelope.hpp"
#include "cluster/node.hpp"
#include "runtime/log.hpp"

#include <algorithm>
#include <cstdint>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

namespace switchboard::cluster {

namespace ws = runtime::websocket;

namespace {

const std::string broadcast_topic = "hub";

std::string node_topic(const std::string& node) {
  return "hub:" + node;
}

}  // namespace

struct hub_bridge::queries {
  // Questions this node asked: request -> who answered, and what to do with an answer.
  struct open_query {
    std::function<void(const std::string&, const v1::HubGroupAnswer&)> answer;
    std::set<std::string> from;
  };
  std::mutex mutex;
  std::condition_variable answered;
  std::unordered_map<std::uint64_t, open_query> open;
  std::uint64_t next = 1;

  // Questions of other nodes: answered on a thread of their own, because the hub's group
  // views ask its registry actor and wait, which the broker thread must not do.
  std::mutex todo_mutex;
  std::condition_variable todo_wake;
  std::deque<std::pair<std::string, v1::HubGroupQuery>> todo;  // asker, question
  bool stopping = false;
  std::thread worker;
};

hub_bridge::hub_bridge(node& n, actors::hub& h) : hub_bridge(n.bus(), n.id(), h) {
  node_ = &n;
}

hub_bridge::hub_bridge(broker& b, std::string node_id, actors::hub& h)
    : bus_(b), self_(std::move(node_id)), hub_(h), queries_(std::make_unique<queries>()) {}

hub_bridge::~hub_bridge() {
  stop();
}

void hub_bridge::start() {
  if (started_.exchange(true)) return;
  auto handler = [this](const delivery& d) { on_delivery(d.payload); };
  bus_.subscribe(broadcast_topic, handler);
  bus_.subscribe(node_topic(self_), handler);
  {
    std::lock_guard<std::mutex> lock(queries_->todo_mutex);
    queries_->stopping = false;
  }
  queries_->worker = std::thread([this] {
    queries& q = *queries_;
    std::unique_lock<std::mutex> lock(q.todo_mutex);
    while (true) {
      q.todo_wake.wait(lock, [&q] { return q.stopping || !q.todo.empty(); });
      if (q.stopping) return;
      auto [asker, question] = std::move(q.todo.front());
      q.todo.pop_front();
      lock.unlock();
      v1::Envelope e;
      auto* a = e.mutable_hub()->mutable_answer();
      a->set_request(question.request());
      if (question.group().empty()) {
        for (auto& name : hub_.groups().names())
          a->add_names(std::move(name));
      } else {
        for (auto id : hub_.groups().members(question.group()))
          a->add_members(id);
      }
      emit(node_topic(asker), seal(e, self_));
      lock.lock();
    }
  });
  hub_.federate(this);
}

void hub_bridge::stop() {
  if (!started_.exchange(false)) return;
  hub_.federate(nullptr);
  bus_.unsubscribe(broadcast_topic);
  bus_.unsubscribe(node_topic(self_));
  {
    std::lock_guard<std::mutex> lock(queries_->todo_mutex);
    queries_->stopping = true;
    queries_->todo.clear();
  }
  queries_->todo_wake.notify_all();
  if (queries_->worker.joinable()) queries_->worker.join();
}

void hub_bridge::ask(
    const std::string& group, std::chrono::milliseconds timeout,
    const std::function<void(const std::string& node, const v1::HubGroupAnswer&)>& answer) {
  if (!started_.load()) return;
  queries& q = *queries_;
  std::uint64_t request = 0;
  {
    std::lock_guard<std::mutex> lock(q.mutex);
    request = q.next++;
    q.open[request].answer = answer;
  }
  v1::Envelope e;
  auto* question = e.mutable_hub()->mutable_query();
  question->set_request(request);
  question->set_group(group);
  emit(broadcast_topic, seal(e, self_));
  // Every live node but this one, when known; else whoever answers within the timeout.
  std::size_t expected = SIZE_MAX;
  if (node_) {
    expected = 0;
    for (const auto& n : node_->nodes())
      if (!n.self) ++expected;
  }
  std::unique_lock<std::mutex> lock(q.mutex);
  q.answered.wait_for(lock, timeout, [&] { return q.open[request].from.size() >= expected; });
  q.open.erase(request);  // a late answer finds nothing and is dropped
}

std::vector<std::string> hub_bridge::group_names(std::chrono::milliseconds timeout) {
  std::set<std::string> all;
  for (auto& name : hub_.groups().names())
    all.insert(std::move(name));
  ask({}, timeout, [&all](const std::string&, const v1::HubGroupAnswer& a) {
    all.insert(a.names().begin(), a.names().end());
  });
  return {all.begin(), all.end()};
}

std::vector<std::pair<std::string, actors::connection_id>> hub_bridge::group_members(
    const std::string& group, std::chrono::milliseconds timeout) {
  std::vector<std::pair<std::string, actors::connection_id>> out;
  if (group.empty()) return out;
  for (auto id : hub_.groups().members(group))
    out.emplace_back(self_, id);
  ask(group, timeout, [&out](const std::string& node, const v1::HubGroupAnswer& a) {
    for (auto id : a.members())
      out.emplace_back(node, id);
  });
  std::sort(out.begin(), out.end());
  return out;
}

hub_bridge_stats hub_bridge::stats() const {
  hub_bridge_stats s;
  s.published = published_.load();
  s.applied = applied_.load();
  s.dropped = dropped_.load();
  s.unavailable = unavailable_.load();
  return s;
}

void hub_bridge::emit(const std::string& topic, std::string sealed) {
  published_.fetch_add(1, std::memory_order_relaxed);
  bus_.publish(topic, std::move(sealed), [this](broker_error e) {
    if (e != broker_error::none) unavailable_.fetch_add(1, std::memory_order_relaxed);
  });
}

void hub_bridge::broadcast(std::string_view text) {
  v1::Envelope e;
  e.mutable_hub()->set_broadcast(std::string(text));
  emit(broadcast_topic, seal(e, self_));
}

void hub_bridge::broadcast(std::string_view text, const std::string& channel) {
  v1::Envelope e;
  auto* c = e.mutable_hub()->mutable_channel();
  c->set_channel(channel);
  c->set_text(std::string(text));
  emit(broadcast_topic, seal(e, self_));
}

void hub_bridge::group_broadcast(const std::string& group_or_pattern, std::string_view text) {
  v1::Envelope e;
  auto* g = e.mutable_hub()->mutable_group();
  g->set_group(group_or_pattern);
  g->set_text(std::string(text));
  emit(broadcast_topic, seal(e, self_));
}

void hub_bridge::endpoint_broadcast(ws::opcode op, std::string_view payload) {
  v1::Envelope e;
  auto* b = e.mutable_hub()->mutable_endpoint();
  b->set_payload(std::string(payload));
  b->set_binary(op == ws::opcode::binary);
  emit(broadcast_topic, seal(e, self_));
}

bool hub_bridge::send(const std::string& node, actors::connection_id id, std::string_view text) {
  return send_any(node, id, text, false);
}

bool hub_bridge::send_binary(const std::string& node, actors::connection_id id,
                             std::string_view data) {
  return send_any(node, id, data, true);
}

bool hub_bridge::send_any(const std::string& node, actors::connection_id id, std::string_view data,
                          bool binary) {
  if (node == self_) return binary ? hub_.send_binary(id, data) : hub_.send(id, data);
  if (!started_.load() || !bus_.stats().connected) {
    unavailable_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  v1::Envelope e;
  auto* s = e.mutable_hub()->mutable_send();
  s->set_connection(id);
  s->set_payload(std::string(data));
  s->set_binary(binary);
  emit(node_topic(node), seal(e, self_));
  return true;
}

// On the broker thread: the hub's local_* only queue frames, so this never blocks.
void hub_bridge::on_delivery(std::string_view payload) {
  v1::Envelope e;
  if (!open(payload, e) || !e.has_hub()) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    SB_LOG(warn, "hub bridge: dropped a malformed envelope (%zu bytes)", payload.size());
    return;
  }
  if (e.origin() == self_) return;  // delivered here when it was sent
  const v1::HubEvent& h = e.hub();
  switch (h.kind_case()) {
    case v1::HubEvent::kBroadcast:
      hub_.local_broadcast(h.broadcast());
      break;
    case v1::HubEvent::kChannel:
      hub_.local_broadcast(h.channel().text(), h.channel().channel());
      break;
    case v1::HubEvent::kGroup:
      hub_.local_group_broadcast(h.group().group(), h.group().text());
      break;
    case v1::HubEvent::kEndpoint:
      hub_.local_endpoint_broadcast(h.endpoint().binary() ? ws::opcode::binary : ws::opcode::text,
                                    h.endpoint().payload());
      break;
    case v1::HubEvent::kSend:
      if (h.send().binary())
        hub_.send_binary(h.send().connection(), h.send().payload());
      else
        hub_.send(h.send().connection(), h.send().payload());
      break;
    case v1::HubEvent::kQuery: {
      {
        std::lock_guard<std::mutex> lock(queries_->todo_mutex);
        if (queries_->stopping) break;
        queries_->todo.emplace_back(e.origin(), h.query());
      }
      queries_->todo_wake.notify_one();
      break;
    }
    case v1::HubEvent::kAnswer: {
      std::lock_guard<std::mutex> lock(queries_->mutex);
      auto it = queries_->open.find(h.answer().request());
      if (it == queries_->open.end() || !it->second.from.insert(e.origin()).second) break;
      it->second.answer(e.origin(), h.answer());
      queries_->answered.notify_all();
      break;
    }
    default:  // a kind a newer node added: not ours to guess
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
  }
  applied_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace switchboard::cluster
