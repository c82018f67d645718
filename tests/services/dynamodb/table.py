"""Create (or empty) a table the way Spin's `aws_dynamo` store expects it:
one string hash key named `PK`, on-demand billing.

    python table.py ENDPOINT TABLE [--fresh]

Uses the AWS_* variables of the environment (start.sh's env file sets them).
--fresh deletes the table first if it exists, so a test server starts empty.
"""

import sys

import boto3


def main():
    endpoint, table = sys.argv[1], sys.argv[2]
    fresh = "--fresh" in sys.argv[3:]
    client = boto3.client("dynamodb", endpoint_url=endpoint)
    names = client.list_tables().get("TableNames", [])
    if table in names and fresh:
        client.delete_table(TableName=table)
        names.remove(table)
    if table not in names:
        client.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    client.get_waiter("table_exists").wait(TableName=table)
    print(f"table.py: {table} ready at {endpoint}")


if __name__ == "__main__":
    main()
