#pragma once
// Reading AWS XML answers with pugixml: the document root, child text, and "item" lists.
#include <string>
#include <vector>

#include <pugixml.hpp>

#include "aws/error.hpp"
#include "aws/session.hpp"

namespace spawn::aws::xml {

// Parses body; a parse error names the service and operation.
Result<pugi::xml_node> parse(pugi::xml_document& doc, const std::string& body, Service service, const std::string& operation,
                             const std::string& region);
// Text of the named child, or empty.
inline std::string text(const pugi::xml_node& node, const char* name) { return node.child_value(name); }
// Integer text of the named child, or fallback.
long long integer(const pugi::xml_node& node, const char* name, long long fallback = 0);
// "true" (any case) as true.
bool boolean(const pugi::xml_node& node, const char* name);
// The text of every <item> under the named child.
std::vector<std::string> items(const pugi::xml_node& node, const char* name);

} // namespace spawn::aws::xml
