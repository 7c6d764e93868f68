// What a job page and the job list show of dataflow programs (JobStatusToJson's "program",
// "stages", "parent_job", "stage_key"): the stage DAG, the stages, their task timelines.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace sawmill::sched::html {

// For a program's page: its stage DAG picture (boxes link to the stages' job pages), a table of
// its stages in submission order, and each stage's task timeline where the document has its
// attempts. Every text is escaped.
std::string ProgramSections(const nlohmann::json& job);

// For a stage's page: a table row naming the stage and linking back to its program; "" for a
// job that is no stage.
std::string ProgramRow(const nlohmann::json& job);

// A program's row in the job list: its tasks summed over its stages, under the job document's
// names (maps, maps_done, maps_running, reduces, reduces_done, reduces_running), and "stages",
// "stages_done" (succeeded).
nlohmann::json ProgramTotals(const nlohmann::json& job);

}  // namespace sawmill::sched::html
