// server_test.cpp: tests of protocols/files/server.hpp (and the transfer state machines of
// transfer.hpp behind it) at the wire level: a Boost.Beast client (tests/unit/support) sends
// hand-made Files frames to a real files::server on a loopback port and reads what comes
// back, so every byte of the flows of spec/sgc-protocols.md 4.2, and every refusal, is checked
// as a peer sees it. The C++ client's tests are in client_test.cpp.
#include "fixture.hpp"

#include "protocols/files/codec.hpp"

#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>

namespace files = switchboard::protocols::files;
namespace rt = switchboard::runtime;
using namespace switchboard::test::files_support;
using switchboard::test::ws_client;
using namespace std::chrono_literals;

namespace {

struct wire_frame {
  std::string id = "ID1", file_id = "F1", name = "a.txt";
  std::int64_t size = 0, position = 0;
  std::int32_t buffer = 0;
  std::string data;
  files::streaming_mode streaming = files::streaming_mode::stm_none;
  files::qos_level qos = files::qos_level::level0;
  files::method_kind method = files::method_kind::file;
  std::string text, channel, payload;

  // Laid out by hand, not by the codec: a test may put in what the encoder refuses.
  std::string encode() const {
    std::string header = id + "|" + file_id + "|" + name + "|" + std::to_string(size) + "|" +
                         std::to_string(position) + "|" + std::to_string(buffer) + "|" + data +
                         "|" + std::string(files::to_string(streaming)) + "|" +
                         std::string(files::to_string(qos)) + "|" +
                         std::string(files::to_string(method)) + "|" + text + "|" + channel;
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "%010zu", header.size());
    return prefix + header + payload;
  }
};

// A header frame for `content`, with its SHA-256 in Text.
wire_frame header_for(const std::string& content, files::qos_level qos, std::string name = "a.txt",
                      std::string file_id = "F1") {
  wire_frame h;
  h.id = "H-" + file_id;
  h.file_id = std::move(file_id);
  h.name = std::move(name);
  h.size = static_cast<std::int64_t>(content.size());
  h.buffer = 4;
  h.qos = qos;
  return h;
}

std::string sha256_text(const std::string& content) {
  temp_dir d;
  const std::string p = d.sub("x");
  std::ofstream(p, std::ios::binary) << content;
  return sha256_file(p);
}

wire_frame chunk_of(const wire_frame& h, const std::string& content, std::int64_t start,
                    std::int64_t end, std::string id) {
  wire_frame c = h;
  c.id = std::move(id);
  c.text.clear();
  c.position = end;
  c.payload =
      content.substr(static_cast<std::size_t>(start), static_cast<std::size_t>(end - start));
  c.streaming =
      end == h.size ? files::streaming_mode::stm_last : files::streaming_mode::stm_continue;
  return c;
}

// The next binary message, decoded into owned strings.
struct got {
  std::string raw;
  files::frame f;
};
std::optional<got> next_frame(ws_client& ws) {
  for (;;) {
    auto m = ws.read(5s);
    if (!m) return std::nullopt;
    if (!m->binary) continue;
    got g;
    g.raw = std::move(m->data);
    const auto r = files::decode(g.raw);
    BOOST_REQUIRE_MESSAGE(r.ok(), "the server sent a frame that does not decode");
    g.f = r.msg;
    return g;
  }
}

void expect(ws_client& ws, files::method_kind m, std::string_view id = {},
            std::optional<std::int64_t> position = std::nullopt, std::string_view text = {}) {
  const auto g = next_frame(ws);
  BOOST_REQUIRE(g);
  BOOST_CHECK_EQUAL(files::to_string(g->f.method), files::to_string(m));
  if (!id.empty()) BOOST_CHECK_EQUAL(g->f.id, id);
  if (position) BOOST_CHECK_EQUAL(g->f.file_position, *position);
  if (!text.empty()) BOOST_CHECK_EQUAL(g->f.text, text);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(files_server)

BOOST_AUTO_TEST_CASE(qos0_push_is_written_with_no_answer) {
  server_fixture f;
  ws_client ws("127.0.0.1", f.port, "/files");
  const std::string content = "0123456789";
  auto h = header_for(content, files::qos_level::level0);
  h.text = "sha256:" + sha256_text(content);
  ws.send_binary(h.encode());
  ws.send_binary(chunk_of(h, content, 0, 4, "C1").encode());
  ws.send_binary(chunk_of(h, content, 4, 8, "C2").encode());
  ws.send_binary(chunk_of(h, content, 8, 10, "C3").encode());
  BOOST_REQUIRE(f.log.wait_for("received a.txt 10 " + sha256_text(content)));
  std::ifstream in(f.receive_dir() + "/a.txt", std::ios::binary);
  std::string back((std::istreambuf_iterator<char>(in)), {});
  BOOST_CHECK_EQUAL(back, content);
  BOOST_CHECK(!exists(f.receive_dir() + "/F1.part"));
  // Nothing came back at QoS 0: the next frame is the answer to a QoS 1 probe.
  auto probe = header_for("", files::qos_level::level1, "b.txt", "F2");
  probe.text.clear();
  ws.send_binary(probe.encode());
  expect(ws, files::method_kind::acknowledgment, "H-F2");
}

BOOST_AUTO_TEST_CASE(qos1_acks_every_frame_then_file_received) {
  server_fixture f;
  ws_client ws("127.0.0.1", f.port, "/files");
  const std::string content = "abcdefghij";
  auto h = header_for(content, files::qos_level::level1);
  h.text = "sha256:" + sha256_text(content);
  ws.send_binary(h.encode());
  expect(ws, files::method_kind::acknowledgment, "H-F1");
  ws.send_binary(chunk_of(h, content, 0, 4, "C1").encode());
  expect(ws, files::method_kind::acknowledgment, "C1", 4);
  ws.send_binary(chunk_of(h, content, 4, 10, "C2").encode());
  expect(ws, files::method_kind::acknowledgment, "C2", 10);
  expect(ws, files::method_kind::file_received, {}, 10);
  BOOST_CHECK(f.log.wait_for("received a.txt 10 " + sha256_text(content)));
}

BOOST_AUTO_TEST_CASE(qos2_pull_and_resume_on_a_new_connection) {
  server_fixture f;
  const std::string content = "0123456789";
  auto h = header_for(content, files::qos_level::level2);
  h.text = "sha256:" + sha256_text(content);
  {
    ws_client ws("127.0.0.1", f.port, "/files");
    ws.send_binary(h.encode());
    expect(ws, files::method_kind::acknowledgment, "H-F1");
    expect(ws, files::method_kind::filerec, {}, 0);
    ws.send_binary(chunk_of(h, content, 0, 4, "C1").encode());
    expect(ws, files::method_kind::acknowledgment, "C1");
    expect(ws, files::method_kind::filerec, {}, 4);
    // A repeated chunk (a retry) is acked and changes nothing: no second filerec.
    ws.send_binary(chunk_of(h, content, 0, 4, "C1").encode());
    expect(ws, files::method_kind::acknowledgment, "C1");
    ws.close();
  }
  BOOST_CHECK(exists(f.receive_dir() + "/F1.part"));  // kept for the resume
  ws_client ws("127.0.0.1", f.port, "/files");
  h.id = "H2";
  ws.send_binary(h.encode());
  expect(ws, files::method_kind::acknowledgment, "H2");
  expect(ws, files::method_kind::filerec, {}, 4);  // from the .part's size
  ws.send_binary(chunk_of(h, content, 4, 8, "C2").encode());
  expect(ws, files::method_kind::acknowledgment, "C2");
  expect(ws, files::method_kind::filerec, {}, 8);
  ws.send_binary(chunk_of(h, content, 8, 10, "C3").encode());
  expect(ws, files::method_kind::acknowledgment, "C3");
  expect(ws, files::method_kind::file_received, {}, 10);
  BOOST_CHECK(f.log.wait_for("received a.txt 10 " + sha256_text(content) + " resumed"));
  BOOST_CHECK(!exists(f.receive_dir() + "/F1.part"));
}

BOOST_AUTO_TEST_CASE(header_length_that_lies_closes_with_1007) {
  server_fixture f;
  {
    ws_client ws("127.0.0.1", f.port, "/files");
    auto h = header_for("x", files::qos_level::level1);
    std::string bytes = h.encode();
    bytes.replace(0, 10, "0000099999");  // more header than the message holds
    ws.send_binary(bytes);
    BOOST_CHECK(!ws.read(5s));
    BOOST_CHECK_EQUAL(ws.close_code(), 1007);
  }
  {
    ws_client ws("127.0.0.1", f.port, "/files");
    const std::string header = "ID|F|a.txt|1|0|0||stmNone|qosLevel1|sgc@file|";  // 11 fields
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "%010zu", header.size());
    ws.send_binary(prefix + header);
    BOOST_CHECK(!ws.read(5s));
    BOOST_CHECK_EQUAL(ws.close_code(), 1007);
  }
  {
    ws_client ws("127.0.0.1", f.port, "/files");
    ws.send_binary("12345");  // shorter than the length prefix
    BOOST_CHECK(!ws.read(5s));
    BOOST_CHECK_EQUAL(ws.close_code(), 1007);
  }
  BOOST_CHECK(listing(f.receive_dir()).empty());
}

BOOST_AUTO_TEST_CASE(path_names_are_rejected_and_the_connection_stays) {
  server_fixture f;
  ws_client ws("127.0.0.1", f.port, "/files");
  for (files::qos_level q :
       {files::qos_level::level0, files::qos_level::level1, files::qos_level::level2}) {
    // The codec refuses a name with a separator; the server answers instead of closing.
    wire_frame h = header_for("x", q, "../evil.txt");
    ws.send_binary(h.encode());
    expect(ws, files::method_kind::file_sent_error, {}, std::nullopt, files::text_rejected);
    // The chunk that follows at QoS 0/1 is dropped, not written, not a close.
    ws.send_binary(chunk_of(h, "x", 0, 1, "C").encode());
  }
  // Hidden names and FileIds that are paths: refused the same way.
  auto hidden = header_for("x", files::qos_level::level1, ".bashrc", "F2");
  ws.send_binary(hidden.encode());
  expect(ws, files::method_kind::file_sent_error, {}, std::nullopt, files::text_rejected);
  auto bad_id = header_for("x", files::qos_level::level1, "ok.txt", "../../etc/x");
  ws.send_binary(bad_id.encode());
  expect(ws, files::method_kind::file_sent_error, {}, std::nullopt, files::text_rejected);
  // Still open: a clean file goes through.
  auto good = header_for("", files::qos_level::level1, "good.txt", "F3");
  good.text.clear();
  ws.send_binary(good.encode());
  expect(ws, files::method_kind::acknowledgment, "H-F3");
  ws.send_binary(chunk_of(good, "", 0, 0, "C").encode());
  expect(ws, files::method_kind::acknowledgment, "C");
  expect(ws, files::method_kind::file_received);
  BOOST_CHECK(listing(f.receive_dir()) == std::vector<std::string>{"good.txt"});
  BOOST_CHECK(!exists(f.dir.path + "/evil.txt"));
  BOOST_CHECK_EQUAL(f.log.count("receive error File Rejected."), 5u);
}

BOOST_AUTO_TEST_CASE(over_max_file_size_is_file_too_large_at_every_qos) {
  server_fixture f(
      [](files::server_options& o, rt::server_options&) { o.transfer.max_file_size = 100; });
  ws_client ws("127.0.0.1", f.port, "/files");
  int n = 0;
  for (files::qos_level q :
       {files::qos_level::level0, files::qos_level::level1, files::qos_level::level2}) {
    auto h = header_for(std::string(101, 'x'), q, "big.bin", "F" + std::to_string(++n));
    ws.send_binary(h.encode());
    expect(ws, files::method_kind::file_sent_error, {}, std::nullopt, files::text_too_large);
  }
  BOOST_CHECK(listing(f.receive_dir()).empty());  // nothing written, no .part
}

BOOST_AUTO_TEST_CASE(size_mismatch_is_refused_and_the_part_deleted) {
  server_fixture f;
  ws_client ws("127.0.0.1", f.port, "/files");
  auto h = header_for("0123456789", files::qos_level::level1);
  h.text.clear();
  ws.send_binary(h.encode());
  expect(ws, files::method_kind::acknowledgment, "H-F1");
  wire_frame c = chunk_of(h, "01234", 0, 5, "C1");
  c.streaming = files::streaming_mode::stm_last;  // last, but only 5 of 10 bytes
  ws.send_binary(c.encode());
  expect(ws, files::method_kind::acknowledgment, "C1");
  expect(ws, files::method_kind::file_sent_error, {}, std::nullopt,
         "Error receiving file, expected size of 10 and received 5.");
  BOOST_CHECK(listing(f.receive_dir()).empty());
}

BOOST_AUTO_TEST_CASE(checksum_mismatch_is_refused_and_the_part_deleted) {
  server_fixture f;
  ws_client ws("127.0.0.1", f.port, "/files");
  const std::string content = "0123456789";
  auto h = header_for(content, files::qos_level::level2);
  h.text = "sha256:" + sha256_text("something else");
  ws.send_binary(h.encode());
  expect(ws, files::method_kind::acknowledgment);
  expect(ws, files::method_kind::filerec, {}, 0);
  wire_frame c = chunk_of(h, content, 0, 10, "C1");
  ws.send_binary(c.encode());
  expect(ws, files::method_kind::acknowledgment, "C1");
  expect(ws, files::method_kind::file_sent_error, {}, std::nullopt, files::text_checksum);
  BOOST_CHECK(listing(f.receive_dir()).empty());
  BOOST_CHECK(f.log.wait_for("receive error " + std::string(files::text_checksum)));
}

BOOST_AUTO_TEST_CASE(name_taken_gets_a_numbered_suffix) {
  server_fixture f;
  ws_client ws("127.0.0.1", f.port, "/files");
  for (int i = 0; i < 3; ++i) {
    const std::string content = "v" + std::to_string(i);
    auto h = header_for(content, files::qos_level::level1, "r.txt", "F" + std::to_string(i));
    h.text = "sha256:" + sha256_text(content);
    ws.send_binary(h.encode());
    expect(ws, files::method_kind::acknowledgment);
    ws.send_binary(chunk_of(h, content, 0, 2, "C").encode());
    expect(ws, files::method_kind::acknowledgment);
    expect(ws, files::method_kind::file_received);
  }
  BOOST_CHECK(
      (listing(f.receive_dir()) == std::vector<std::string>{"r (1).txt", "r (2).txt", "r.txt"}));
}

BOOST_AUTO_TEST_CASE(sender_error_deletes_the_part) {
  server_fixture f;
  ws_client ws("127.0.0.1", f.port, "/files");
  const std::string content = "0123456789";
  auto h = header_for(content, files::qos_level::level2);
  ws.send_binary(h.encode());
  expect(ws, files::method_kind::acknowledgment);
  expect(ws, files::method_kind::filerec, {}, 0);
  ws.send_binary(chunk_of(h, content, 0, 4, "C1").encode());
  expect(ws, files::method_kind::acknowledgment);
  expect(ws, files::method_kind::filerec, {}, 4);
  BOOST_CHECK(exists(f.receive_dir() + "/F1.part"));
  wire_frame e = h;
  e.id = "E";
  e.text = "File Cancelled.";
  e.method = files::method_kind::file_received_error;  // the sender's error (crossed names)
  ws.send_binary(e.encode());
  BOOST_CHECK(f.log.wait_for("receive error File Cancelled. (remote)"));
  BOOST_CHECK(listing(f.receive_dir()).empty());
}

BOOST_AUTO_TEST_CASE(subscribe_text_frames_use_the_default_protocol) {
  server_fixture f;
  ws_client ws("127.0.0.1", f.port, "/files");
  ws.send(R"({"jsonrpc":"2.0","method":"sgc@subscribe","params":{"channel":"a,b"}})");
  for (const char* ch : {"a", "b"}) {
    const auto m = ws.read(5s);
    BOOST_REQUIRE(m && !m->binary);
    BOOST_CHECK_NE(m->data.find("sgc@subscribe"), std::string::npos);
    BOOST_CHECK_NE(m->data.find(std::string("\"") + ch + "\""), std::string::npos);
  }
  BOOST_CHECK(f.log.wait_for("subscribe b"));
  BOOST_CHECK_EQUAL(f.protocol->subscribers("a"), 1u);
  ws.send("not json");
  const auto err = ws.read(5s);
  BOOST_REQUIRE(err && !err->binary);
  BOOST_CHECK_NE(err->data.find("-32700"), std::string::npos);
  ws.send(R"({"jsonrpc":"2.0","method":"sgc@unsubscribe","params":{"channel":"a"}})");
  const auto un = ws.read(5s);
  BOOST_REQUIRE(un && !un->binary);
  BOOST_CHECK_NE(un->data.find("sgc@unsubscribe"), std::string::npos);
  BOOST_CHECK_EQUAL(f.protocol->subscribers("a"), 0u);
  ws.close();
  for (int i = 0; i < 200 && f.protocol->subscribers("b") != 0; ++i)
    std::this_thread::sleep_for(10ms);
  BOOST_CHECK_EQUAL(f.protocol->subscribers("b"), 0u);  // subscriptions end with the connection
}

BOOST_AUTO_TEST_SUITE_END()
