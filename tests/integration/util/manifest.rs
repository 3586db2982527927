//! docs/deploy/bench-job.yaml, read: each Job's container command line, its environment and
//! its volume's mount, so that a test runs the very lines users apply with kubectl.

use std::path::Path;
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

use super::binary;

/// The manifest's documents.
pub struct Manifest(Vec<Yaml>);

/// One Job's pod, as the manifest writes it.
pub struct Job {
    /// The shell script its container runs (`/bin/sh -c SCRIPT`).
    pub script: String,
    env: Vec<(String, String)>,
    /// Where its volume is mounted.
    pub mount: String,
    /// Its `completions`, if it says.
    pub completions: Option<String>,
}

impl Manifest {
    pub fn read() -> Manifest {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/deploy/bench-job.yaml");
        let text = std::fs::read_to_string(&path).expect("the manifest");
        Manifest(YamlLoader::load_from_str(&text).expect("YAML"))
    }

    /// The Job named `name`.
    pub fn job(&self, name: &str) -> Job {
        let job = self
            .0
            .iter()
            .find(|doc| {
                doc["kind"].as_str() == Some("Job")
                    && doc["metadata"]["name"].as_str() == Some(name)
            })
            .unwrap_or_else(|| panic!("no Job {name} in the manifest"));
        let container = &job["spec"]["template"]["spec"]["containers"][0];
        let command: Vec<&str> = container["command"]
            .as_vec()
            .map(|words| words.iter().filter_map(Yaml::as_str).collect())
            .unwrap_or_default();
        assert_eq!(command, ["/bin/sh", "-c"], "{name}: a shell script");
        let env = container["env"]
            .as_vec()
            .map(|vars| {
                vars.iter()
                    .filter_map(|var| {
                        Some((
                            var["name"].as_str()?.to_owned(),
                            var["value"].as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Job {
            script: container["args"][0]
                .as_str()
                .expect("the script")
                .to_owned(),
            env,
            mount: container["volumeMounts"][0]["mountPath"]
                .as_str()
                .expect("a mount")
                .to_owned(),
            completions: job["spec"]["completions"].as_i64().map(|n| n.to_string()),
        }
    }
}

impl Job {
    /// The value the manifest gives `key`.
    pub fn env(&self, key: &str) -> String {
        self.env
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("no {key} in the manifest's env"))
    }

    /// `sh` (a shell command, maybe inside a host of the bed) set to run the pod's script,
    /// with the manifest's environment, `here` replacing the values it gives (and adding none),
    /// and this build's `upcase` first on the PATH, as the image has it.
    pub fn pod(&self, mut sh: Command, here: &[(&str, &str)]) -> Command {
        for (key, value) in &self.env {
            let value = here
                .iter()
                .find(|(name, _)| name == key)
                .map_or(value.as_str(), |(_, value)| value);
            sh.env(key, value);
        }
        let bin = binary();
        let dir = bin.parent().expect("the binary's directory");
        let path = std::env::var("PATH").unwrap_or_default();
        sh.env("PATH", format!("{}:{path}", dir.display()));
        sh.arg("-c").arg(&self.script);
        sh
    }
}
