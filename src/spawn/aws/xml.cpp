#include "aws/xml.hpp"

#include "util/strings.hpp"

namespace spawn::aws::xml {

Result<pugi::xml_node> parse(pugi::xml_document& doc, const std::string& body, Service service, const std::string& operation,
                             const std::string& region) {
  auto result = doc.load_buffer(body.data(), body.size());
  if (!result || !doc.document_element()) {
    AwsError e;
    e.kind = ErrorKind::parse;
    e.service = to_string(service);
    e.operation = operation;
    e.region = region;
    e.message = std::string("answer is not XML: ") + result.description();
    return Failure(e);
  }
  return doc.document_element();
}

long long integer(const pugi::xml_node& node, const char* name, long long fallback) {
  auto value = util::parse_int(util::trim(node.child_value(name)));
  return value ? *value : fallback;
}

bool boolean(const pugi::xml_node& node, const char* name) { return util::iequals(util::trim(node.child_value(name)), "true"); }

std::vector<std::string> items(const pugi::xml_node& node, const char* name) {
  std::vector<std::string> out;
  for (auto item : node.child(name).children("item")) out.emplace_back(item.child_value());
  return out;
}

} // namespace spawn::aws::xml
