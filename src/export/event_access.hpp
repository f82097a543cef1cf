// Private: what the encoders do with an event's record besides reading it through `event`.
#pragma once

#include <beeline/event.hpp>

namespace beeline::detail {

/// Asks for the lines an encoder reads of an event, ahead of encoding it: its records were written by the
/// threads that made the spans, on other cores, and read one after another they cost one cache miss per
/// line. Call it for the event two ahead with `storage` false (the headers of its fields, text and
/// annotations, whose addresses are known), and for the next one with `storage` true (the fields and text
/// those headers point to; at most a few dozen lines).
void prefetch_for_encoding(const event& ev, bool storage) noexcept;

}  // namespace beeline::detail
