// How `diffulex serve` serves the web playground (no browser needed): every file of web/ at its
// path with the right content type, byte for byte; ETag + Cache-Control with 304 on a match;
// the page's Content-Security-Policy; open without the API key while the API still needs it;
// no shadowing of API routes; --web-dir serving edits from disk.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "tests/support/serve_harness.h"

namespace dlx::test {
namespace {

namespace fs = std::filesystem;

const std::map<std::string, std::string> kTypes = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
};

std::string web_dir() {
  return std::string(DLX_SOURCE_DIR) + "/web";
}

// The files the binary embeds: web/*.{html,js,css,svg}.
std::vector<std::string> web_files() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(web_dir())) {
    if (kTypes.count(e.path().extension().string())) names.push_back(e.path().filename().string());
  }
  return names;
}

std::vector<std::string> model_args() {
  return {"--model", "llada=" + model_dir("llada")};
}

class WebServing : public ::testing::Test {
 protected:
  TempDir tmp;
};

TEST_F(WebServing, EveryFileWithItsTypeAndCachingHeaders) {
  std::vector<std::string> args = model_args();
  args.insert(args.end(), {"--db", tmp.file("db.sqlite")});
  ServerProcess server(tmp.path(), args);
  ASSERT_TRUE(server.wait_ready()) << server.stderr_text();
  httplib::Client c("127.0.0.1", server.port());

  const auto names = web_files();
  ASSERT_GE(names.size(), 4u) << "web/ should hold index.html, app.js, style.css and more";
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    auto r = c.Get(("/" + name).c_str());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), kTypes.at(fs::path(name).extension().string()));
    EXPECT_EQ(r->body, read_file(web_dir() + "/" + name)) << "embedded copy is stale";
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-cache");
    EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
    const std::string etag = r->get_header_value("ETag");
    ASSERT_EQ(etag.size(), 18u) << etag;  // "16 hex digits"

    // Revalidation: the same ETag gets a body-less 304, a list containing it too, another 200.
    auto same = c.Get(("/" + name).c_str(), {{"If-None-Match", etag}});
    ASSERT_TRUE(same);
    EXPECT_EQ(same->status, 304);
    EXPECT_TRUE(same->body.empty());
    auto list = c.Get(("/" + name).c_str(), {{"If-None-Match", "\"0000\", W/" + etag}});
    ASSERT_TRUE(list);
    EXPECT_EQ(list->status, 304);
    auto other = c.Get(("/" + name).c_str(), {{"If-None-Match", "\"0123456789abcdef\""}});
    ASSERT_TRUE(other);
    EXPECT_EQ(other->status, 200);
  }

  // "/" is index.html, with the policy that keeps the page on this server.
  auto root = c.Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 200);
  EXPECT_EQ(root->body, read_file(web_dir() + "/index.html"));
  EXPECT_NE(root->get_header_value("Content-Security-Policy").find("default-src 'self'"),
            std::string::npos);
  auto head = c.Head("/");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);

  // Unknown files are the API's 404; other methods 405; API routes are not shadowed.
  auto missing = c.Get("/missing.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_TRUE(is_error_shape(body_json(missing))) << missing->body;
  auto post = c.Post("/", "{}", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
  EXPECT_EQ(body_json(models)["data"][0]["id"], "llada");
}

TEST_F(WebServing, PageIsOpenWhileTheApiNeedsTheKey) {
  std::vector<std::string> args = model_args();
  args.insert(args.end(), {"--db", tmp.file("db.sqlite"), "--api-key", "sesame"});
  ServerProcess server(tmp.path(), args);
  ASSERT_TRUE(server.wait_ready()) << server.stderr_text();
  httplib::Client c("127.0.0.1", server.port());
  for (const char* path : {"/", "/index.html", "/app.js", "/style.css"}) {
    auto r = c.Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << path;
  }
  auto api = c.Get("/v1/models");
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 401);
  auto with_key = c.Get("/v1/models", {{"Authorization", "Bearer sesame"}});
  ASSERT_TRUE(with_key);
  EXPECT_EQ(with_key->status, 200);
}

TEST_F(WebServing, WebDirServesEditsFromDisk) {
  const std::string dir = tmp.file("web");
  fs::copy(web_dir(), dir, fs::copy_options::recursive);
  std::vector<std::string> args = model_args();
  args.insert(args.end(), {"--db", tmp.file("db.sqlite"), "--web-dir", dir});
  ServerProcess server(tmp.path(), args);
  ASSERT_TRUE(server.wait_ready()) << server.stderr_text();
  httplib::Client c("127.0.0.1", server.port());

  auto before = c.Get("/style.css");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 200);
  EXPECT_EQ(before->get_header_value("Content-Type"), "text/css; charset=utf-8");
  { std::ofstream(dir + "/style.css", std::ios::app) << "\n/* edited */\n"; }
  auto after = c.Get("/style.css", {{"If-None-Match", before->get_header_value("ETag")}});
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200) << "an edited file must not be answered with 304";
  EXPECT_EQ(after->body, read_file(dir + "/style.css"));
  EXPECT_NE(after->get_header_value("ETag"), before->get_header_value("ETag"));
}

TEST_F(WebServing, WebDirWithoutIndexIsRefused) {
  fs::create_directories(tmp.file("empty"));
  const RunResult r = run("timeout 30 " + binary() + " serve --port 0 --db " +
                          tmp.file("db.sqlite") + " --web-dir " + tmp.file("empty"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--web-dir"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dlx::test
