// A small XML reader for the tests: elements, attributes, nesting; throws
// on anything not well-formed. Enough to check what fanout's SVGs hold.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tx {

struct Node {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attrs;
  std::vector<std::unique_ptr<Node>> kids;
  std::string attr(const std::string& k) const {
    for (auto& a : attrs) if (a.first == k) return a.second;
    return "";
  }
  void all(const std::string& n, std::vector<const Node*>& out) const {
    for (auto& k : kids) {
      if (k->name == n) out.push_back(k.get());
      k->all(n, out);
    }
  }
};

inline std::unique_ptr<Node> parse(const std::string& s) {
  size_t i = 0;
  auto fail = [&](const char* why) { throw std::runtime_error(std::string("xml: ") + why + " at " + std::to_string(i)); };
  auto ws = [&] { while (i < s.size() && isspace((unsigned char)s[i])) i++; };
  auto name = [&] {
    size_t b = i;
    while (i < s.size() && (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == ':' || s[i] == '_')) i++;
    if (b == i) fail("expected a name");
    return s.substr(b, i - b);
  };
  ws();
  if (s.compare(i, 5, "<?xml") == 0) {
    i = s.find("?>", i);
    if (i == std::string::npos) fail("unterminated declaration");
    i += 2;
  }
  std::vector<Node*> stack;
  std::unique_ptr<Node> root;
  while (true) {
    ws();
    if (i >= s.size()) break;
    if (s[i] != '<') {  // text
      size_t e = s.find('<', i);
      if (stack.empty()) fail("text outside the root");
      i = e == std::string::npos ? s.size() : e;
      continue;
    }
    if (s.compare(i, 2, "</") == 0) {
      i += 2;
      std::string n = name();
      ws();
      if (i >= s.size() || s[i] != '>') fail("expected >");
      i++;
      if (stack.empty() || stack.back()->name != n) fail("mismatched end tag");
      stack.pop_back();
      if (stack.empty()) { ws(); if (i != s.size()) fail("content after the root"); break; }
      continue;
    }
    i++;
    auto node = std::make_unique<Node>();
    node->name = name();
    for (;;) {
      ws();
      if (i >= s.size()) fail("unterminated tag");
      if (s[i] == '>' || s.compare(i, 2, "/>") == 0) break;
      std::string k = name();
      ws();
      if (s[i] != '=') fail("expected =");
      i++;
      ws();
      char q = s[i];
      if (q != '"' && q != '\'') fail("unquoted attribute");
      size_t e = s.find(q, i + 1);
      if (e == std::string::npos) fail("unterminated attribute");
      node->attrs.emplace_back(k, s.substr(i + 1, e - i - 1));
      i = e + 1;
    }
    bool self = s[i] == '/';
    i += self ? 2 : 1;
    Node* raw = node.get();
    if (stack.empty()) {
      if (root) fail("two roots");
      root = std::move(node);
    } else {
      stack.back()->kids.push_back(std::move(node));
    }
    if (!self) stack.push_back(raw);
    else if (stack.empty()) break;
  }
  if (!stack.empty() || !root) fail("unterminated document");
  return root;
}

}  // namespace tx
