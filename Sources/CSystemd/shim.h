#pragma once
// libsystemd's notify and journal APIs. Swift cannot call the variadic sd_notifyf or
// sd_journal_send, so the daemon uses sd_notify and sd_journal_sendv.
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
