//! Shell completions and manual pages, generated from the command-line definitions.

use predicates::prelude::*;

use crate::util::upcase;

#[test]
fn completions_know_every_command_and_flag() {
    for (shell, marker) in [
        ("bash", "_upcase()"),
        ("zsh", "#compdef upcase"),
        ("fish", "complete -c upcase"),
    ] {
        upcase()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains(marker))
            .stdout(predicate::str::contains("max-datagrams-per-source"))
            .stdout(predicate::str::contains("interval"))
            .stdout(predicate::str::contains("reconnect"))
            .stderr("");
    }
    upcase()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "upcase: invalid value 'tcsh' for '<SHELL>' [possible values: bash, elvish, fish, powershell, zsh]",
        ));
}

#[test]
fn manual_pages_for_upcase_and_each_command() {
    upcase()
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::contains(".TH upcase 1"))
        .stdout(predicate::str::contains("Kurose & Ross"))
        .stdout(predicate::str::contains("completions"));
    for (command, flag) in [
        ("server", r"\-\-max\-connections"),
        ("client", r"\-\-count"),
        ("bench", r"\-\-window"),
    ] {
        upcase()
            .args(["man", command])
            .assert()
            .success()
            .stdout(predicate::str::contains(format!(".TH upcase-{command} 1")))
            .stdout(predicate::str::contains(flag));
    }
    upcase().args(["man", "nope"]).assert().code(2).stdout("");
}
