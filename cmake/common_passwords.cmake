# The common-password list of the password policy (>= 10,000 entries, one
# per line, lower case, sorted, unique), extracted at build time from the npm
# package zxcvbn pinned in tests/node/package.json: its lib/frequency_lists.js
# carries 30,000 common passwords. The list is never committed.
#
# In CMakeLists.txt:
#   include(cmake/common_passwords.cmake)
#   iotvault_common_passwords(NODE_DIR <dir with package.json> OUTPUT <file>)
# adds the target common_passwords (part of ALL) that makes OUTPUT.
#
# As a script (what that target runs):
#   cmake -DNODE_DIR=<dir> -DOUTPUT=<file> -P cmake/common_passwords.cmake
# installs the npm packages of NODE_DIR when zxcvbn is missing, then extracts.

set(IOTVAULT_COMMON_PASSWORDS_MIN 10000)

function(iotvault_common_passwords)
  cmake_parse_arguments(CP "" "NODE_DIR;OUTPUT" "" ${ARGN})
  if(NOT CP_NODE_DIR OR NOT CP_OUTPUT)
    message(FATAL_ERROR "iotvault_common_passwords(NODE_DIR <dir> OUTPUT <file>)")
  endif()
  add_custom_command(OUTPUT ${CP_OUTPUT}
    COMMAND ${CMAKE_COMMAND} -DNODE_DIR=${CP_NODE_DIR} -DOUTPUT=${CP_OUTPUT}
            -P ${CMAKE_CURRENT_FUNCTION_LIST_FILE}
    DEPENDS ${CP_NODE_DIR}/package.json ${CMAKE_CURRENT_FUNCTION_LIST_FILE}
    COMMENT "Extracting the common-password list from the npm package zxcvbn"
    VERBATIM)
  add_custom_target(common_passwords ALL DEPENDS ${CP_OUTPUT})
endfunction()

function(iotvault_extract_common_passwords node_dir output)
  find_program(NODE_EXECUTABLE node)
  find_program(NPM_EXECUTABLE npm)
  if(NOT NODE_EXECUTABLE)
    message(FATAL_ERROR "common passwords: node is needed (scripts/install-deps.sh installs it)")
  endif()
  set(lists "${node_dir}/node_modules/zxcvbn/lib/frequency_lists.js")
  if(NOT EXISTS "${lists}")
    if(NOT NPM_EXECUTABLE)
      message(FATAL_ERROR "common passwords: ${lists} is missing and npm is not installed")
    endif()
    execute_process(COMMAND ${NPM_EXECUTABLE} install --prefix ${node_dir} --no-audit --no-fund
                    RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0 OR NOT EXISTS "${lists}")
      message(FATAL_ERROR "common passwords: npm install in ${node_dir} failed (${rc})")
    endif()
  endif()
  # No semicolons in the script: CMake would split the argument on them.
  set(js [=[
const path = require('path'), fs = require('fs')
const lists = require(path.resolve(process.argv[1]))
const words = String(lists.passwords || '').split(',')
  .map(w => w.trim().toLowerCase())
  .filter(w => w.length > 0 && !/[\x00-\x1f\x7f]/.test(w))
const unique = [...new Set(words)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
fs.writeFileSync(process.argv[2], unique.join('\n') + '\n', {mode: 0o644})
process.stdout.write(String(unique.length))
]=])
  get_filename_component(dir "${output}" DIRECTORY)
  file(MAKE_DIRECTORY "${dir}")
  execute_process(COMMAND ${NODE_EXECUTABLE} -e "${js}" "${lists}" "${output}.tmp"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE count ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    file(REMOVE "${output}.tmp")
    message(FATAL_ERROR "common passwords: extraction failed: ${err}")
  endif()
  if(count LESS IOTVAULT_COMMON_PASSWORDS_MIN)
    file(REMOVE "${output}.tmp")
    message(FATAL_ERROR "common passwords: only ${count} entries in ${lists}, "
                        "fewer than ${IOTVAULT_COMMON_PASSWORDS_MIN}")
  endif()
  file(RENAME "${output}.tmp" "${output}")
  message(STATUS "common passwords: ${count} entries in ${output}")
endfunction()

if(CMAKE_SCRIPT_MODE_FILE AND CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  if(NOT NODE_DIR OR NOT OUTPUT)
    message(FATAL_ERROR "usage: cmake -DNODE_DIR=<dir> -DOUTPUT=<file> -P ${CMAKE_CURRENT_LIST_FILE}")
  endif()
  iotvault_extract_common_passwords("${NODE_DIR}" "${OUTPUT}")
endif()
