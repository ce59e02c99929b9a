//! Unit tests of the command line's arguments and help.

use super::*;
use clap::CommandFactory;

/// `watch --help` names what stops it where the binary runs: SIGTERM does not exist on
/// Windows, Ctrl-Break does not exist on Unix.
#[test]
fn watch_help_names_this_platforms_stop_requests() {
    let command = Cli::command();
    let about = command
        .find_subcommand("watch")
        .and_then(|watch| watch.get_about())
        .expect("watch has a help line")
        .to_string();
    assert!(about.contains(watch::STOP_REQUESTS), "{about}");
    if cfg!(windows) {
        assert!(
            about.contains("Ctrl-Break") && !about.contains("SIGTERM"),
            "{about}"
        );
    } else if cfg!(unix) {
        assert!(
            about.contains("SIGTERM") && !about.contains("Ctrl-Break"),
            "{about}"
        );
    }
}
