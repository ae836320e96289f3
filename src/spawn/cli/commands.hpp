#pragma once
// Entry points of the commands listed in cli/app.cpp; each returns the exit status.
#include <string>
#include <vector>

namespace spawn::cli {

int cmd_slurm_inspect(const std::vector<std::string>& args);
int cmd_slurm_estimate(const std::vector<std::string>& args);
int cmd_slurm_convert(const std::vector<std::string>& args);
int cmd_catalog_list(const std::vector<std::string>& args);
int cmd_catalog_refresh(const std::vector<std::string>& args);
int cmd_config(const std::vector<std::string>& args);
int cmd_slurm_submit(const std::vector<std::string>& args);
int cmd_launch(const std::vector<std::string>& args);
int cmd_status(const std::vector<std::string>& args);
int cmd_list(const std::vector<std::string>& args);
int cmd_logs(const std::vector<std::string>& args);
int cmd_cancel(const std::vector<std::string>& args);
int cmd_wait(const std::vector<std::string>& args);
int cmd_resume(const std::vector<std::string>& args);
int cmd_cost(const std::vector<std::string>& args);
int cmd_aws_list(const std::vector<std::string>& args);
int cmd_aws_cleanup(const std::vector<std::string>& args);
int cmd_aws_policy(const std::vector<std::string>& args);
int cmd_aws_setup(const std::vector<std::string>& args);

} // namespace spawn::cli
