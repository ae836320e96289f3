#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "runtime/task_dir.hpp"
#include "util/files.hpp"

using namespace spawn;
using namespace spawn::runtime;

TEST(RuntimeTaskDir, MarkerRoundTrip) {
  ExitMarker m;
  m.state = TaskState::timeout;
  m.exit_code = 143;
  m.signal = 15;
  m.reason = "time limit of 2 s reached (killed by signal 15)";
  m.start = 100;
  m.end = 102;
  auto back = parse_exit_marker(format_exit_marker(m));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->state, TaskState::timeout);
  EXPECT_EQ(back->exit_code, 143);
  EXPECT_EQ(back->signal, 15);
  EXPECT_EQ(back->reason, m.reason);
  EXPECT_EQ(back->start, 100);
  EXPECT_EQ(back->end, 102);
}

TEST(RuntimeTaskDir, MarkerErrorsNameTheLine) {
  EXPECT_EQ(parse_exit_marker("state=DONE\n").error(), "marker line 1: bad state \"DONE\"");
  EXPECT_EQ(parse_exit_marker("state=FAILED\nexit_code=x\n").error(), "marker line 2: bad exit_code \"x\"");
  EXPECT_EQ(parse_exit_marker("exit_code=1\n").error(), "marker has no state line");
  EXPECT_EQ(parse_exit_marker("garbage").error(), "marker line 1: no '=' in \"garbage\"");
}

TEST(RuntimeTaskDir, RuntimeScriptIsEmbedded) {
  auto script = runtime_script();
  EXPECT_EQ(script.substr(0, 19), "#!/usr/bin/env bash");
  EXPECT_NE(script.find("rt_srun()"), std::string_view::npos);
}

TEST(RuntimeTaskDir, WritesEveryFile) {
  char tmpl[] = "/tmp/spawn-test-taskdir-XXXXXX";
  ASSERT_TRUE(::mkdtemp(tmpl));
  std::filesystem::path dir = tmpl;
  TaskSpec spec;
  spec.job_label = "12";
  spec.script_text = "#!/bin/bash\necho hi\n";
  spec.args = {"a", "b c"};
  spec.work_dir = "/w";
  spec.stdio.output = "/w/it's.out";
  spec.node_names = {"spawn-0", "spawn-1"};
  spec.tasks_per_node = {2, 1};
  spec.time_limit_seconds = 5;
  spec.signal = SignalSpec{12, "USR2", 3, true, false};
  spec.modules = {{3, "python/3.9", "conda", "py39"}, {4, "gcc", std::nullopt, std::nullopt}};
  ASSERT_TRUE(write_task_dir(dir, spec, {{"A", "1"}, {"B", "x\ny"}}));
  EXPECT_EQ(*util::read_file(dir / "slurm_script"), spec.script_text);
  EXPECT_EQ(*util::read_file(dir / "args"), std::string("a\0b c\0", 6));
  EXPECT_EQ(*util::read_file(dir / "job.env"), std::string("A=1\0B=x\ny\0", 10));
  EXPECT_EQ(*util::read_file(dir / "hostfile"), "spawn-0 slots=2\nspawn-1 slots=1\n");
  EXPECT_EQ(*util::read_file(dir / "modules"), "python/3.9\tconda\tpy39\n");
  auto settings = *util::read_file(dir / "settings");
  EXPECT_NE(settings.find("SPAWN_RT_STDOUT='/w/it'\\''s.out'\n"), std::string::npos) << settings;
  EXPECT_NE(settings.find("SPAWN_RT_TIME_LIMIT='5'\n"), std::string::npos);
  EXPECT_NE(settings.find("SPAWN_RT_SIGNAL='12'\n"), std::string::npos);
  EXPECT_NE(settings.find("SPAWN_RT_SIGNAL_BEFORE='3'\n"), std::string::npos);
  EXPECT_NE(settings.find("SPAWN_RT_SIGNAL_BATCH='1'\n"), std::string::npos);
  EXPECT_NE(settings.find("SPAWN_RT_NODE_NAMES='spawn-0 spawn-1'\n"), std::string::npos);
  EXPECT_EQ(*util::read_file(dir / "runtime.sh"), runtime_script());
  EXPECT_TRUE(std::filesystem::status(dir / "bin/srun").permissions() != std::filesystem::perms::none);
  auto marker = read_exit_marker(dir);
  ASSERT_TRUE(marker);
  EXPECT_FALSE(*marker);
  std::filesystem::remove_all(dir);
}
