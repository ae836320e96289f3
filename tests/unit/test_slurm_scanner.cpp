#include <gtest/gtest.h>

#include "slurm/scanner.hpp"

using namespace spawn::slurm;

namespace {
std::vector<std::string> tokens(std::string_view line) {
  auto r = tokenize_directive(line);
  EXPECT_FALSE(r.error) << *r.error;
  return r.tokens;
}
std::vector<std::string> texts(const ScriptScan& s) {
  std::vector<std::string> out;
  for (const auto& t : s.sbatch_tokens) out.push_back(t.text);
  return out;
}
} // namespace

TEST(SlurmTokenizer, QuotesBackslashesAndComments) {
  EXPECT_EQ(tokens(" --job-name=\"my job\" -t 5"), (std::vector<std::string>{"--job-name=my job", "-t", "5"}));
  EXPECT_EQ(tokens(" a\"b c\"d"), (std::vector<std::string>{"ab cd"}));
  EXPECT_EQ(tokens(" --mem=4G#comment"), (std::vector<std::string>{"--mem=4G"}));
  EXPECT_EQ(tokens(" --mem=4G # comment --time=5"), (std::vector<std::string>{"--mem=4G"}));
  EXPECT_EQ(tokens(" -J 'a#b'"), (std::vector<std::string>{"-J", "a#b"}));
  EXPECT_EQ(tokens(" -J a\\#b"), (std::vector<std::string>{"-J", "a#b"}));
  EXPECT_EQ(tokens(" -J 'it\\'s'"), (std::vector<std::string>{"-J", "it's"}));
  // 22.05: an escaped space still ends the token.
  EXPECT_EQ(tokens(" -J foo\\ bar"), (std::vector<std::string>{"-J", "foo", "bar"}));
  // An empty token ends the line.
  EXPECT_EQ(tokens(" -J \"\" --mem=1G"), (std::vector<std::string>{"-J"}));
}

TEST(SlurmTokenizer, UnmatchedQuoteAndLeadingColonAreErrors) {
  EXPECT_EQ(*tokenize_directive(" -J \"abc").error, "unmatched \" in \" -J \\\"abc\"");
  EXPECT_TRUE(tokenize_directive(" :foo").error);
}

TEST(SlurmScanner, DirectivesStopAtFirstCommand) {
  auto s = scan_script("#!/bin/bash\n#SBATCH -N2\n\n# comment\n  #SBATCH --ignored-comment\n#SBATCH-t5\n"
                       "echo hi\n#SBATCH --mem=1G\n");
  EXPECT_EQ(texts(s), (std::vector<std::string>{"-N2", "-t5"}));
  EXPECT_EQ(s.body_line, 7);
  EXPECT_EQ(s.sbatch_tokens[1].line, 6);
}

TEST(SlurmScanner, LookalikesAreComments) {
  auto s = scan_script("#!/bin/sh\n# SBATCH -N1\n#sbatch -N2\n##SBATCH -N3\n #SBATCH -N4\n#SBATCH -N5\ntrue\n");
  EXPECT_EQ(texts(s), (std::vector<std::string>{"-N5"}));
}

TEST(SlurmScanner, HeredocAfterFirstCommandIsBody) {
  auto s = scan_script("#!/bin/bash\n#SBATCH -J a\ncat <<EOF\n#SBATCH -J b\nEOF\n");
  EXPECT_EQ(texts(s), (std::vector<std::string>{"-J", "a"}));
  EXPECT_EQ(s.body_line, 3);
}

TEST(SlurmScanner, SpawnLinesCollectedWithLineNumbers) {
  auto s = scan_script("#!/bin/bash\n#SBATCH -J a\n#SPAWN --instance-type c5.4xlarge,c6i.4xlarge\n#SPAWN --spot true\nrun\n"
                       "#SPAWN --region late\n");
  ASSERT_EQ(s.spawn_directives.size(), 2u);
  EXPECT_EQ(s.spawn_directives[0].line, 3);
  EXPECT_EQ(s.spawn_directives[0].tokens, (std::vector<std::string>{"--instance-type", "c5.4xlarge,c6i.4xlarge"}));
}

TEST(SlurmScanner, NoCommandMeansBodyAfterLastLine) {
  auto s = scan_script("#!/bin/bash\n#SBATCH -N1\n");
  EXPECT_EQ(s.body_line, 3);
}

TEST(SlurmScript, RejectedWholesale) {
  EXPECT_EQ(*check_script_text(""), "the batch script is empty");
  EXPECT_EQ(*check_script_text("  \n\n"), "the batch script is empty");
  EXPECT_TRUE(check_script_text("echo hi\n"));
  EXPECT_TRUE(check_script_text(std::string("#!/bin/sh\necho\0x\n", 17)));
  EXPECT_EQ(*check_script_text("#!/bin/sh\r\necho\r\n"),
            "the batch script contains DOS line breaks (\\r\\n) instead of UNIX line breaks (\\n); convert it with dos2unix");
  EXPECT_FALSE(check_script_text("#!/bin/sh\necho\n"));
}
