"""The passwords and the token the services share with the database and each
other, generated at the first `pulumi up` and kept, encrypted, in the stack's state."""

import pulumi
import pulumi_random as random

# Created at the top of the stack until they got this parent: the alias keeps
# each one (and its value) rather than generating a new one.
FORMERLY_AT_THE_STACK = [pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]


class Credentials(pulumi.ComponentResource):
    items_db_password: pulumi.Output
    audit_db_password: pulumi.Output
    audit_token: pulumi.Output
    retention_db_password: pulumi.Output

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("items-audit:secrets:Credentials", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, aliases=FORMERLY_AT_THE_STACK)
        self.items_db_password = random.RandomPassword(
            "items-service-db-password", length=32, special=False, opts=child
        ).result
        self.audit_db_password = random.RandomPassword(
            "audit-service-db-password", length=32, special=False, opts=child
        ).result
        self.audit_token = random.RandomPassword(
            "audit-token", length=48, special=False, opts=child
        ).result
        self.retention_db_password = random.RandomPassword(
            "audit-retention-db-password", length=32, special=False, opts=child
        ).result
        self.register_outputs({})
