# ctest report_html_in_chromium: a small real run writes report.html, and headless Chromium
# must render it with no console messages and a screenshot that is not blank
# (check_html.py). Called with -DEXE=<scalelab> -DSCRIPT=<check_html.py> -DWORK=<scratch dir>.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
execute_process(
  COMMAND "${EXE}" run --workload cpu,io --model serial,threads,processes,async --workers 1,2,4
          --tasks 8 --repeat 3 --cpu-work 20000 --io-wait 2ms --seed 11 --out "${WORK}/run" --quiet
  RESULT_VARIABLE run_rc OUTPUT_QUIET ERROR_VARIABLE run_err)
if(NOT run_rc EQUAL 0)
  message(FATAL_ERROR "scalelab run exited ${run_rc}: ${run_err}")
endif()
find_program(PYTHON3 python3 REQUIRED)
execute_process(COMMAND "${PYTHON3}" "${SCRIPT}" "${WORK}/run/report.html" "${WORK}/check"
                RESULT_VARIABLE check_rc OUTPUT_VARIABLE check_out ERROR_VARIABLE check_err)
message("${check_out}${check_err}")
if(NOT check_rc EQUAL 0)
  message(FATAL_ERROR "report.html failed the Chromium check (exit ${check_rc})")
endif()
