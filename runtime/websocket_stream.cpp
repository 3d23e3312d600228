#include "runtime/websocket_stream.hpp"

#include "runtime/error.hpp"
#include "runtime/log.hpp"

#include <openssl/rand.h>

#include <array>
#include <cstring>
#include <vector>

namespace switchboard::runtime {

namespace ws = websocket;

namespace {

// Masking keys must be unpredictable to the application (RFC 6455 section 10.3): they come
// from OpenSSL's CSPRNG, fetched 1 KiB at a time per thread so a frame costs no system call.
std::array<std::uint8_t, 4> next_mask_key() {
  thread_local std::array<std::uint8_t, 1024> pool;
  thread_local std::size_t used = pool.size();
  if (used == pool.size()) {
    if (RAND_bytes(pool.data(), static_cast<int>(pool.size())) != 1)
      throw std::runtime_error("RAND_bytes failed: no entropy for WebSocket masking keys");
    used = 0;
  }
  std::array<std::uint8_t, 4> key;
  std::memcpy(key.data(), pool.data() + used, 4);
  used += 4;
  return key;
}

bool same(const websocket_settings& a, const websocket_settings& b) noexcept {
  return a.role == b.role && a.max_message_size == b.max_message_size &&
         a.deflate_min_size == b.deflate_min_size && a.fragment_size == b.fragment_size &&
         a.report_fragments == b.report_fragments &&
         a.slow_consumer_close_code == b.slow_consumer_close_code &&
         a.heartbeat_interval_ms == b.heartbeat_interval_ms &&
         a.heartbeat_timeout_ms == b.heartbeat_timeout_ms &&
         a.idle_timeout_ms == b.idle_timeout_ms && a.close_timeout_ms == b.close_timeout_ms;
}

// Every connection of a server has the same settings, and so do a client's: streams share one
// copy (16 bytes each instead of 56). Each thread remembers the copies its streams use; a copy
// is freed with the last stream holding it, and forgotten on the next lookup after that.
std::shared_ptr<const websocket_settings> shared_settings(const websocket_settings& s) {
  thread_local std::vector<std::weak_ptr<const websocket_settings>> known;
  for (auto it = known.begin(); it != known.end();) {
    if (auto p = it->lock()) {
      if (same(*p, s)) return p;
      ++it;
    } else {
      it = known.erase(it);
    }
  }
  auto p = std::make_shared<const websocket_settings>(s);
  known.push_back(p);
  return p;
}

}  // namespace

void websocket_stream::open_websocket(const websocket_settings& settings,
                                      const std::optional<ws::deflate_params>& deflate,
                                      const ws::deflate_options& local) {
  settings_ = shared_settings(settings);
  if (deflate) {
    deflate_ = std::make_unique<compression>(settings.role, *deflate, local);
    if (settings.role == ws::role::server &&
        (deflate->server_no_context_takeover || local.server_no_context_takeover))
      deflate_->shared_window = std::min<int>(ws::window_bits(deflate->server_max_window_bits),
                                              local.server_max_window_bits);
  }
  active_ = true;
  ping_tick_ = home().now_tick();
  home().stats.websockets_open.add();
  open_.store(true, std::memory_order_release);
}

ws::decoder_options websocket_stream::decoder_options() const noexcept {
  ws::decoder_options d;
  d.local_role = settings_->role;
  d.max_message_size = settings_->max_message_size;
  d.report_fragments = settings_->report_fragments;
  d.allow_rsv1 = deflate_ != nullptr;
  return d;
}

// --- Sending ------------------------------------------------------------------------------

send_status websocket_stream::send_frame(ws::opcode op, bool fin, bool rsv1,
                                         std::string_view payload, bool control) {
  std::uint8_t header[ws::max_frame_header];
  if (settings_->role == ws::role::server) {
    const std::size_t n = ws::encode_header(header, op, fin, payload.size(), nullptr, rsv1);
    const std::string_view parts[2] = {{reinterpret_cast<const char*>(header), n}, payload};
    return send_parts(parts, 2, control);
  }
  // A client masks every frame with its own key: the payload is copied and masked on the way.
  const auto key = next_mask_key();
  const std::size_t n = ws::encode_header(header, op, fin, payload.size(), &key, rsv1);
  std::string& frame = home().mask_buffer;
  frame.assign(reinterpret_cast<const char*>(header), n);
  frame.append(payload);
  ws::mask(reinterpret_cast<std::uint8_t*>(frame.data() + n), payload.size(), key);
  const std::string_view part(frame);
  const send_status s = send_parts(&part, 1, control);
  if (frame.capacity() > (1u << 20)) std::string().swap(frame);
  return s;
}

send_status websocket_stream::send_message(ws::opcode op, std::string_view payload,
                                           std::size_t fragment_size) {
  if (!active_ || close_sent_) return send_status::dropped;
  bool compressed = false;
  if (deflate_ && payload.size() >= settings_->deflate_min_size) {
    std::string& out = home().deflate_buffer;
    out.clear();
    if (deflate_->state.deflate_message(payload, out)) {
      fail(ws::close_code::internal_error, "compression failed");
      return send_status::dropped;
    }
    payload = out;
    compressed = true;
  }
  if (fragment_size == 0) fragment_size = settings_->fragment_size;
  send_status s;
  if (fragment_size == 0 || payload.size() <= fragment_size) {
    s = send_frame(op, true, compressed, payload, false);
  } else {
    // The first frame passes the backpressure check for the whole message; the rest follow
    // it unconditionally so a message is never cut short on the wire.
    s = send_frame(op, false, compressed, payload.substr(0, fragment_size), false);
    for (std::size_t at = fragment_size; s == send_status::queued && at < payload.size();
         at += fragment_size) {
      const bool last = payload.size() - at <= fragment_size;
      s = send_frame(ws::opcode::continuation, last, false, payload.substr(at, fragment_size),
                     true);
    }
  }
  if (s == send_status::queued) home().stats.messages_out.add();
  return s;
}

send_status websocket_stream::send_shared(const shared_buffer& frame) {
  if (!accepts_messages()) return send_status::dropped;
  shared_buffer out = frame;
  if (deflate_ && deflate_->shared_window != 0) {
    const std::string_view payload = ws::unmasked_frame_payload(*frame);
    const auto op = static_cast<ws::opcode>(static_cast<std::uint8_t>((*frame)[0]) & 0x0f);
    if (payload.size() >= settings_->deflate_min_size && !ws::is_control(op)) {
      auto& cache = home().shared_deflate;
      if (cache.source != frame || cache.window_bits != deflate_->shared_window) {
        const std::string compressed =
            ws::compress_once(payload, deflate_->params, deflate_->local, settings_->role);
        cache.source = frame;
        cache.window_bits = deflate_->shared_window;
        if (compressed.empty()) {
          cache.frame = frame;  // zlib could not allocate: send it uncompressed
        } else {
          std::uint8_t header[ws::max_frame_header];
          const std::size_t n =
              ws::encode_header(header, op, true, compressed.size(), nullptr, /*rsv1=*/true);
          auto built = std::make_shared<std::string>(reinterpret_cast<const char*>(header), n);
          built->append(compressed);
          cache.frame = std::move(built);
        }
      }
      out = cache.frame;
    }
  }
  const send_status s = send(out);
  if (s == send_status::queued) home().stats.messages_out.add();
  return s;
}

send_status websocket_stream::send_control(ws::opcode op, std::string_view payload) {
  if (!active_ || close_sent_ || payload.size() > ws::max_control_payload)
    return send_status::dropped;
  return send_frame(op, true, false, payload, true);
}

void websocket_stream::start_close(std::uint16_t code, std::string_view reason) {
  if (!active_ || close_sent_ || close_reported_) return;
  send_close(code, reason);
  close_deadline_ = home().now_tick() + settings_->close_timeout_ms / worker::tick_ms + 1;
  flush();
}

void websocket_stream::send_close(std::uint16_t code, std::string_view reason) {
  send_frame(ws::opcode::close, true, false, ws::encode_close_payload(code, reason), true);
  close_sent_ = true;
}

// --- Receiving ----------------------------------------------------------------------------

void websocket_stream::websocket_data(std::uint8_t* data, std::size_t size) {
  const auto keep = shared_from_this();  // a handler may drop the last other reference
  if (decoder_) {
    decode(*decoder_, data, size);
    if (decoder_->idle()) decoder_.reset();
    return;
  }
  // The common case: the read ends on a frame boundary, and this decoder is dropped with
  // nothing in it. Only what is cut across reads is kept.
  ws::decoder d(decoder_options());
  decode(d, data, size);
  if (!d.idle() && active_ && !close_reported_)
    decoder_ = std::make_unique<ws::decoder>(std::move(d));
}

void websocket_stream::decode(ws::decoder& d, std::uint8_t* data, std::size_t size) {
  while (size > 0 && active_ && !close_reported_) {
    const ws::decode_event ev = d.decode(data, size);
    data += ev.consumed;
    size -= ev.consumed;
    switch (ev.kind) {
      case ws::decode_event::need_more:
        return;
      case ws::decode_event::message: {
        // After our close frame the peer may still send what it sent before seeing it: that
        // is delivered (a failed connection has already stopped this loop).
        home().stats.messages_in.add();
        std::string_view payload = ev.payload;
        if (ev.compressed) {
          // The decoder bounded the compressed size; the inflater bounds the real one.
          std::string& out = home().inflate_buffer;
          out.clear();
          const std::error_code ec =
              deflate_->state.inflate_message(payload, out, settings_->max_message_size);
          if (ec)
            return fail(ws::close_code_for(static_cast<ws::deflate_errc>(ec.value())),
                        ec.message());
          if (ev.op == ws::opcode::text &&
              !ws::is_valid_utf8(reinterpret_cast<const std::uint8_t*>(out.data()), out.size()))
            return fail(ws::errc::invalid_utf8);
          payload = out;
        }
        on_ws_message(ev.op, payload);
        if (home().inflate_buffer.capacity() > (1u << 20))
          std::string().swap(home().inflate_buffer);
        break;
      }
      case ws::decode_event::fragment:
        on_ws_fragment(ev.op, ev.payload);
        break;
      case ws::decode_event::ping:
        if (!close_sent_) send_frame(ws::opcode::pong, true, false, ev.payload, true);
        break;
      case ws::decode_event::pong:
        awaiting_pong_ = false;
        break;
      case ws::decode_event::close:
        // Echo the peer's code (section 5.5.1); a close without a code gets one without.
        if (!close_sent_)
          send_close(ev.close_code == ws::close_code::no_status ? 0 : ev.close_code, {});
        finish(ev.close_code, ev.payload);
        return close_gracefully(settings_->close_timeout_ms);
      case ws::decode_event::error:
        return fail(ev.error_code);
    }
  }
}

void websocket_stream::fail(ws::errc e) {
  fail(ws::close_code_for(e), ws::make_error_code(e).message());
}

void websocket_stream::fail(std::uint16_t code, const std::string& reason) {
  home().stats.protocol_errors.add();
  SB_LOG(debug, "%s: failing with %u: %s", log_name().c_str(), code, reason.c_str());
  if (!close_sent_) send_close(code, reason);
  finish(code, reason);
  close_gracefully(settings_->close_timeout_ms);
}

void websocket_stream::finish(std::uint16_t code, std::string_view reason) {
  if (close_reported_) return;
  close_reported_ = true;
  open_.store(false, std::memory_order_release);
  home().stats.websockets_open.sub();
  on_ws_closed(code, reason);
}

// --- Timers and the end of the socket -----------------------------------------------------

void websocket_stream::websocket_tick(std::uint32_t now) {
  if (!active_ || close_reported_) return;
  const auto elapsed_ms = [now](std::uint32_t since) {
    return static_cast<std::uint64_t>(now - since) * worker::tick_ms;
  };
  if (close_sent_) {
    if (static_cast<std::int32_t>(now - close_deadline_) >= 0) {
      finish(ws::close_code::abnormal, "no close frame in reply");
      abort(make_error_code(errc::shutting_down));
    }
    return;
  }
  const websocket_settings& s = *settings_;
  if (s.idle_timeout_ms && ticks_since_read() * worker::tick_ms >= s.idle_timeout_ms)
    return start_close(ws::close_code::going_away, "idle timeout");
  if (!s.heartbeat_interval_ms) return;
  if (awaiting_pong_ && s.heartbeat_timeout_ms &&
      elapsed_ms(ping_tick_) >= s.heartbeat_timeout_ms) {
    SB_LOG(info, "%s: no pong within %u ms", log_name().c_str(), s.heartbeat_timeout_ms);
    finish(ws::close_code::abnormal, "heartbeat timeout");
    return abort(make_error_code(errc::heartbeat_timeout));
  }
  if (!awaiting_pong_ && elapsed_ms(ping_tick_) >= s.heartbeat_interval_ms) {
    send_frame(ws::opcode::ping, true, false, {}, true);
    ping_tick_ = now;
    awaiting_pong_ = s.heartbeat_timeout_ms != 0;
  }
}

void websocket_stream::websocket_closed(const std::error_code& ec) {
  if (active_ && !close_reported_) {
    SB_LOG(debug, "%s closed without a close frame: %s", log_name().c_str(), ec.message().c_str());
    // No close frame received: 1006 (RFC 6455 section 7.1.5), also after ours went unanswered.
    finish(ws::close_code::abnormal, close_sent_ ? std::string("no close frame in reply")
                                     : ec        ? ec.message()
                                                 : std::string());
  }
  active_ = false;
}

void websocket_stream::websocket_slow_consumer() {
  if (close_sent_) return abort(make_error_code(errc::slow_consumer));
  const std::uint16_t code = settings_->slow_consumer_close_code;
  SB_LOG(info, "%s: slow consumer (%zu bytes queued), closing with %u", log_name().c_str(),
         queued_bytes(), code);
  send_close(code, "slow consumer");
  finish(code, "slow consumer");
  close_gracefully(settings_->close_timeout_ms);
}

}  // namespace switchboard::runtime
