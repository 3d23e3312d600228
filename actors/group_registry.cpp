#include "actors/group_registry.hpp"

#include "actors/pattern.hpp"
#include "runtime/server.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>

#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace switchboard::actors {
namespace {

struct registry_state {
  runtime::server* server = nullptr;
  const group_removed_handler* on_removed = nullptr;
  std::map<std::string, std::unordered_map<connection_id, runtime::connection_ptr>> groups;
  std::unordered_map<connection_id, std::set<std::string>> memberships;  // for remove_all
  static inline const char* name = "group_registry";

  void removed(const std::string& group, connection_id id) const {
    if (on_removed && *on_removed) (*on_removed)(group, id);
  }
};

group_registry_actor::behavior_type registry(
    group_registry_actor::stateful_pointer<registry_state> self, runtime::server* server,
    const group_removed_handler* on_removed) {
  self->state.server = server;
  self->state.on_removed = on_removed;
  return {
      [self](add_atom, const std::string& group, const runtime::connection_ptr& c) {
        // A connection whose close was reported must not be added: its remove_all may have
        // run already (is_open() turns false before that message is sent).
        if (!c || !c->is_open()) return;
        self->state.groups[group].emplace(c->id(), c);
        self->state.memberships[c->id()].insert(group);
      },
      [self](remove_atom, const std::string& group, connection_id id) {
        auto& s = self->state;
        const auto g = s.groups.find(group);
        if (g == s.groups.end() || g->second.erase(id) == 0) return;
        if (g->second.empty()) s.groups.erase(g);
        if (auto m = s.memberships.find(id); m != s.memberships.end()) {
          m->second.erase(group);
          if (m->second.empty()) s.memberships.erase(m);
        }
        s.removed(group, id);
      },
      [self](remove_all_atom, connection_id id) {
        auto& s = self->state;
        const auto m = s.memberships.find(id);
        if (m == s.memberships.end()) return;
        const std::set<std::string> names = std::move(m->second);
        s.memberships.erase(m);
        for (const auto& group : names) {
          if (auto g = s.groups.find(group); g != s.groups.end()) {
            g->second.erase(id);
            if (g->second.empty()) s.groups.erase(g);
          }
          s.removed(group, id);
        }
      },
      [self](broadcast_atom, const std::string& name, const runtime::shared_buffer& frame) {
        auto& s = self->state;
        std::vector<runtime::connection_ptr> targets;
        if (!is_pattern(name)) {
          if (auto g = s.groups.find(name); g != s.groups.end())
            for (const auto& [id, c] : g->second)
              targets.push_back(c);
        } else {
          std::unordered_set<connection_id> seen;  // once per connection across groups
          for (const auto& [group, members] : s.groups)
            if (pattern_matches(name, group))
              for (const auto& [id, c] : members)
                if (seen.insert(id).second) targets.push_back(c);
        }
        if (!targets.empty()) s.server->fanout(targets, frame);
      },
      [self](members_atom, const std::string& group) {
        std::vector<connection_id> ids;
        if (auto g = self->state.groups.find(group); g != self->state.groups.end())
          for (const auto& [id, c] : g->second)
            ids.push_back(id);
        return ids;
      },
      [self](list_atom) {
        std::vector<std::string> names;
        for (const auto& [name, members] : self->state.groups)
          names.push_back(name);
        return names;
      },
  };
}

}  // namespace

group_registry_actor spawn_group_registry(caf::actor_system& system, runtime::server& server,
                                          const group_removed_handler* on_removed) {
  return system.spawn(registry, &server, on_removed);
}

}  // namespace switchboard::actors
