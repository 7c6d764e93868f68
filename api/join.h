// The job author's join header: JoinDef (two inputs, how a record yields its join key and
// payload, what a match emits) and the strategies that make a JobSpec of it (docs/joins.md).
#pragma once

#include "api/mapreduce.h"
#include "join/join.h"
