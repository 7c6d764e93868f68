// HTML pieces shared by the coordinator's pages (scheduler/web_ui.cc, scheduler/program_html.cc):
// escaping, durations and sizes, state colours, progress bars, the head and tail of a page.
#pragma once

#include <cstdint>
#include <string>

namespace sawmill::sched::html {

std::string Esc(const std::string& s);  // HtmlEscape
// "850 ms", "12.3 s", "4m 05s", "2h 03m"; negative reads as 0.
std::string Duration(int64_t ms);
std::string Bytes(uint64_t n);  // "12.3 MiB"
// "2024-05-01 12:00:00 UTC" for milliseconds since the epoch; "" for 0 or less.
std::string Clock(int64_t unix_ms);
// Running or committing (a page showing it refreshes itself).
bool Active(const std::string& state);
// ` class="STATE"` for a known job or stage state, "" for any other text (never put in an attribute).
std::string StateClass(const std::string& state);
// A bar of done (green) and running (blue) tasks out of total, and "done/total".
std::string Progress(int64_t done, int64_t running, int64_t total);
// "/job/<id>", the id URL-encoded (not HTML-escaped).
std::string JobHref(const std::string& id);
// The page up to <body>, with the stylesheet; `refresh` reloads it every 2 s.
std::string Head(const std::string& title, bool refresh);
inline constexpr char kTail[] = "</body></html>\n";

}  // namespace sawmill::sched::html
