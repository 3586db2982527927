//! `upcase bench --slo`: objectives checked at the end of a run, each broken one named in a
//! line and the exit status 3, all of them in `--json`; ones that cannot be checked refused.

use predicates::prelude::*;

use crate::util::{start_server, upcase};

fn bench(port: u16, args: &[&str]) -> assert_cmd::Command {
    let mut bench = upcase();
    bench
        .args(["bench", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--requests", "300"])
        .args(args);
    bench
}

#[test]
fn objectives_met_exit_0_and_are_reported_in_json() {
    let server = start_server(&["--tcp", "--bind", "127.0.0.1"]);
    let out = bench(
        server.port(),
        &["--slo", "p99<=10s", "--slo", "lost==0", "--json"],
    )
    .assert()
    .success();
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("JSON");
    let slo = report["slo"].as_array().expect("the objectives");
    assert_eq!(slo.len(), 2);
    assert_eq!(
        (&slo[0]["expr"], &slo[0]["ok"]),
        (&"p99<=10s".into(), &true.into())
    );
    assert_eq!(
        (&slo[1]["measured"], &slo[1]["ok"]),
        (&0.0.into(), &true.into())
    );
}

#[test]
fn a_broken_objective_is_named_and_exits_3() {
    let server = start_server(&["--tcp", "--bind", "127.0.0.1"]);
    bench(server.port(), &["--slo", "p50<1ns", "--slo", "wrong==0"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("slo broken: p50<1ns (measured "))
        .stdout(predicate::str::contains("wrong==0").not());
    let out = bench(server.port(), &["--slo", "max<1ns", "--json"])
        .assert()
        .code(3);
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("JSON");
    assert_eq!(report["slo"][0]["ok"], false);
}

#[test]
fn objectives_that_cannot_be_checked_are_usage_errors() {
    for (slo, says) in [
        ("p99<=2", "not a duration with its unit"),
        ("p42<=2ms", "no metric"),
        ("rate>=0.99", "needs --rate"),
        ("lost", "METRIC OP VALUE"),
    ] {
        upcase()
            .args(["bench", "--requests", "1", "--slo", slo])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
}
