#pragma once
/// \file scalelab.hpp
/// Everything a user of the library needs: include this one header.

#include "scalelab/analysis.hpp"
#include "scalelab/async.hpp"
#include "scalelab/error.hpp"
#include "scalelab/gil.hpp"
#include "scalelab/granularity.hpp"
#include "scalelab/model.hpp"
#include "scalelab/params.hpp"
#include "scalelab/parse.hpp"
#include "scalelab/plan.hpp"
#include "scalelab/plugins.hpp"
#include "scalelab/records.hpp"
#include "scalelab/registry.hpp"
#include "scalelab/report.hpp"
#include "scalelab/resume.hpp"
#include "scalelab/session.hpp"
#include "scalelab/trial.hpp"
#include "scalelab/workload.hpp"
