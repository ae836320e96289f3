#include <gtest/gtest.h>

#include "util/strings.hpp"

using namespace spawn::util;

TEST(UtilStrings, SplitKeepsEmptyFields) {
  EXPECT_EQ(split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split("", ','), (std::vector<std::string>{""}));
}

TEST(UtilStrings, ParseUintRejectsSignsSpacesAndOverflow) {
  EXPECT_EQ(parse_uint("42"), 42u);
  EXPECT_FALSE(parse_uint("-1"));
  EXPECT_FALSE(parse_uint(" 1"));
  EXPECT_FALSE(parse_uint("99999999999999999999999"));
}

TEST(UtilStrings, CompressIndicesAsSlurmWritesArrays) {
  EXPECT_EQ(compress_indices({0, 1, 2, 5, 7, 8}), "0-2,5,7-8");
  EXPECT_EQ(compress_indices({8, 4, 7, 4}), "4,7-8");
  EXPECT_EQ(compress_indices({4}), "4");
  EXPECT_EQ(compress_indices({}), "");
}

TEST(UtilStrings, QuoteEscapesControlCharacters) { EXPECT_EQ(quote("a\"b\r"), "\"a\\\"b\\r\""); }
