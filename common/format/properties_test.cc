#include "common/format/properties.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mq::format {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(PropertiesTest, EncodeDecode) {
  std::map<std::string, std::string> in = {{"KEYS", "a b"}, {"TAGS", "TagA"}, {"EMPTY", ""}};
  absl::StatusOr<std::string> encoded = EncodeProperties(in);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_EQ(*encoded, std::string("EMPTY\x01\x02KEYS\x01"
                                  "a b\x02TAGS\x01TagA"));
  auto pairs = DecodeProperties(*encoded);
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  EXPECT_THAT(*pairs, ElementsAre(Pair("EMPTY", ""), Pair("KEYS", "a b"), Pair("TAGS", "TagA")));
  EXPECT_EQ(FindProperty(*encoded, "TAGS"), "TagA");
  EXPECT_EQ(FindProperty(*encoded, "KEYS"), "a b");
  EXPECT_EQ(FindProperty(*encoded, "EMPTY"), "");
  EXPECT_EQ(FindProperty(*encoded, "TAG"), absl::nullopt);
  EXPECT_EQ(FindProperty(*encoded, "MISSING"), absl::nullopt);
  EXPECT_EQ(FindProperty("", "TAGS"), absl::nullopt);
}

TEST(PropertiesTest, AcceptsRocketMqTrailingSeparator) {
  auto pairs = DecodeProperties(
      "A\x01"
      "1\x02"
      "B\x01"
      "2\x02");
  ASSERT_TRUE(pairs.ok());
  EXPECT_THAT(*pairs, ElementsAre(Pair("A", "1"), Pair("B", "2")));
  EXPECT_EQ(FindProperty("A\x01"
                         "1\x02"
                         "B\x01"
                         "2\x02",
                         "B"),
            "2");
}

TEST(PropertiesTest, RejectsSeparatorsInNamesAndValues) {
  std::vector<std::pair<std::string, std::string>> bad_value = {{"K",
                                                                 "a\x01"
                                                                 "b"}};
  EXPECT_FALSE(EncodeProperties(bad_value).ok());
  std::vector<std::pair<std::string, std::string>> bad_key = {{"K\x02", "v"}};
  EXPECT_FALSE(EncodeProperties(bad_key).ok());
  std::vector<std::pair<std::string, std::string>> empty_key = {{"", "v"}};
  EXPECT_FALSE(EncodeProperties(empty_key).ok());
  EXPECT_FALSE(DecodeProperties("novalue").ok());
}

TEST(TagsHashCodeTest, MatchesJavaStringHashCode) {
  EXPECT_EQ(TagsHashCode(""), 0);
  EXPECT_EQ(TagsHashCode("TagA"), 2598919);
  EXPECT_EQ(TagsHashCode("Hello World"), -862545276);
  EXPECT_EQ(TagsHashCode("\xC3\xA9"), 233);              // é
  EXPECT_EQ(TagsHashCode("\xF0\x9F\x98\x80"), 1772899);  // U+1F600, a surrogate pair
  EXPECT_EQ(TagsHashCode("\xE4\xB8\xAD\xE6\x96\x87\xE6\xA0\x87\xE7\xAD\xBE"), 622041809);
  EXPECT_EQ(TagsHashCode("\xFF"), 0xFFFD);
}

}  // namespace
}  // namespace mq::format
