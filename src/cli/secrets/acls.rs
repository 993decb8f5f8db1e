//! put-acl, get-acl, list-acls, delete-acl: who may do what in a scope.

use clap::Args;

use super::{ScopeName, from_options_or_positionals, print_reply};
use crate::api::{AclItem, Permission};
use crate::cli::{Context, usage_error};
use crate::output::Table;

#[derive(Args, Debug)]
pub struct PutAcl {
    /// Scope the rule applies to
    #[arg(long)]
    scope: Option<String>,

    /// User name, group name or service principal application ID
    #[arg(long)]
    principal: Option<String>,

    /// READ, WRITE or MANAGE (any case); each level includes the ones before it
    #[arg(long)]
    permission: Option<String>,

    /// The scope, instead of --scope
    #[arg(value_name = "SCOPE")]
    scope_argument: Option<String>,

    /// The principal, instead of --principal
    #[arg(value_name = "PRINCIPAL")]
    principal_argument: Option<String>,

    /// The permission, instead of --permission
    #[arg(value_name = "PERMISSION")]
    permission_argument: Option<String>,
}

impl PutAcl {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let [scope, principal, permission] = from_options_or_positionals(
            ["scope", "principal", "permission"],
            [self.scope, self.principal, self.permission],
            [
                self.scope_argument,
                self.principal_argument,
                self.permission_argument,
            ],
        )?;
        let permission: Permission = permission.parse().map_err(|_| {
            usage_error(format!(
                "invalid permission '{permission}': use READ, WRITE or MANAGE"
            ))
        })?;
        let connection = context.connect()?;
        connection
            .client
            .put_acl(&scope, &principal, permission)
            .await
            .map_err(|error| connection.explain(error))
    }
}

/// `--scope S --principal P`, or `S P` positionally.
#[derive(Args, Debug)]
struct AclAddress {
    /// Scope of the rule
    #[arg(long)]
    scope: Option<String>,

    /// Principal of the rule
    #[arg(long)]
    principal: Option<String>,

    /// The scope, instead of --scope
    #[arg(value_name = "SCOPE")]
    scope_argument: Option<String>,

    /// The principal, instead of --principal
    #[arg(value_name = "PRINCIPAL")]
    principal_argument: Option<String>,
}

impl AclAddress {
    fn resolve(self) -> anyhow::Result<[String; 2]> {
        from_options_or_positionals(
            ["scope", "principal"],
            [self.scope, self.principal],
            [self.scope_argument, self.principal_argument],
        )
    }
}

#[derive(Args, Debug)]
pub struct GetAcl {
    #[command(flatten)]
    address: AclAddress,
}

impl GetAcl {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let [scope, principal] = self.address.resolve()?;
        let connection = context.connect()?;
        let reply = connection
            .client
            .get_acl(&scope, &principal)
            .await
            .map_err(|error| connection.explain(error))?;
        print_reply(context, &reply.raw, || acl_table([reply.data]))
    }
}

#[derive(Args, Debug)]
pub struct ListAcls {
    #[command(flatten)]
    scope: ScopeName,
}

impl ListAcls {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let scope = self.scope.resolve()?;
        let connection = context.connect()?;
        let reply = connection
            .client
            .list_acls(&scope)
            .await
            .map_err(|error| connection.explain(error))?;
        print_reply(context, &reply.raw, || acl_table(reply.data.items))
    }
}

fn acl_table(items: impl IntoIterator<Item = AclItem>) -> Table {
    let mut table = Table::new(&["Principal", "Permission"]);
    for item in items {
        table.row(vec![item.principal, item.permission.to_uppercase()]);
    }
    table
}

#[derive(Args, Debug)]
pub struct DeleteAcl {
    #[command(flatten)]
    address: AclAddress,
}

impl DeleteAcl {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let [scope, principal] = self.address.resolve()?;
        let connection = context.connect()?;
        connection
            .client
            .delete_acl(&scope, &principal)
            .await
            .map_err(|error| connection.explain(error))
    }
}
