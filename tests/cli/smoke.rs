use crate::harness::TestEnv;

#[test]
fn version_and_an_empty_workspace() {
    let env = TestEnv::new();
    assert!(env.run(&["--version"]).ok().starts_with("Databricks CLI v"));
    assert_eq!(
        env.run(&["secrets", "list-scopes"]).ok(),
        "Scope    Backend    KeyVault URL\n-------  ---------  --------------\n"
    );
}
