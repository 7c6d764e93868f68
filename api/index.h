// What a job that builds the search index needs (jobs/inverted_index; `sawmill index query`
// reads what it writes): a document's number and its document-table key, the document-count
// key, and EncodeTerm, which turns a term's postings into its index records. The format, with
// each function's contract: index/index_format.h and docs/index.md.
#pragma once

#include "index/index_format.h"
