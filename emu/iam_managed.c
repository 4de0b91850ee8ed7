/*
 * iam_managed.c owns the AWS managed policies rdsemu knows: static data,
 * the same in every account and never stored (a reset cannot lose them).
 * Documents, paths, default version ids and dates are AWS's published
 * ones (as of 2026) for the policies that setup scripts for Lambda, RDS,
 * RDS Proxy and Secrets Manager attach.  Two departures, on purpose:
 * PolicyId values are derived from the name (sha256, [A-Z0-9]) rather than
 * AWS's; ReadOnlyAccess keeps only the actions of the services rdsemu
 * serves or that those setups touch (cloudwatch, ec2, iam, kms, lambda,
 * logs, rds, secretsmanager, sts) -- AWS's full document is ~88 KB of
 * actions for services that do not exist here.
 *
 * May call: nothing (data and a lookup).  Invariant: sorted by name,
 * ignoring case (the order ListPolicies shows).
 */
#include "emu/iam_int.h"

#include <string.h>

static const struct iam_managed managed[] = {
	{"AdministratorAccess", "/", "ANPA39OUZK32RBWZWVS7X", "v1",
		"Provides full access to AWS services and resources.",
		"{\"Statement\":[{\"Action\":\"*\",\"Effect\":\"Allow\",\"Resource\":\"*\"}],\"Version\":\"2012-10-17"
		"\"}",
		1423247986, 1423247986},
	{"AmazonRDSDataFullAccess", "/", "ANPADS1DPZRQM22ERPTZN", "v3",
		"Allows full access to use the RDS data APIs, secret store APIs for RDS data API credentials and DB console query management APIs to execute SQL statements on Aurora Serverless clusters in the AWS account.",
		"{\"Statement\":[{\"Action\":[\"secretsmanager:GetSecretValue\",\"secretsmanager:PutResourcePolicy\","
		"\"secretsmanager:PutSecretValue\",\"secretsmanager:DeleteSecret\",\"secretsmanager:DescribeSecret\","
		"\"secretsmanager:TagResource\"],\"Effect\":\"Allow\",\"Resource\":\"arn:aws:secretsmanager:*:*:secre"
		"t:rds-db-credentials/*\",\"Sid\":\"SecretsManagerDbCredentialsAccess\"},{\"Action\":[\"dbqms:CreateF"
		"avoriteQuery\",\"dbqms:DescribeFavoriteQueries\",\"dbqms:UpdateFavoriteQuery\",\"dbqms:DeleteFavorit"
		"eQueries\",\"dbqms:GetQueryString\",\"dbqms:CreateQueryHistory\",\"dbqms:DescribeQueryHistory\",\"db"
		"qms:UpdateQueryHistory\",\"dbqms:DeleteQueryHistory\",\"rds-data:ExecuteSql\",\"rds-data:ExecuteStat"
		"ement\",\"rds-data:BatchExecuteStatement\",\"rds-data:BeginTransaction\",\"rds-data:CommitTransactio"
		"n\",\"rds-data:RollbackTransaction\",\"secretsmanager:CreateSecret\",\"secretsmanager:ListSecrets\","
		"\"secretsmanager:GetRandomPassword\",\"tag:GetResources\"],\"Effect\":\"Allow\",\"Resource\":\"*\",\""
		"Sid\":\"RDSDataServiceAccess\"}],\"Version\":\"2012-10-17\"}",
		1542749376, 1574287126},
	{"AmazonRDSFullAccess", "/", "ANPAWOZ21CZTKHR4H1OVD", "v14",
		"Provides full access to Amazon RDS via the AWS Management Console.",
		"{\"Statement\":[{\"Action\":[\"rds:*\",\"application-autoscaling:DeleteScalingPolicy\",\"application"
		"-autoscaling:DeregisterScalableTarget\",\"application-autoscaling:DescribeScalableTargets\",\"applic"
		"ation-autoscaling:DescribeScalingActivities\",\"application-autoscaling:DescribeScalingPolicies\",\""
		"application-autoscaling:PutScalingPolicy\",\"application-autoscaling:RegisterScalableTarget\",\"clou"
		"dwatch:DescribeAlarms\",\"cloudwatch:GetMetricStatistics\",\"cloudwatch:PutMetricAlarm\",\"cloudwatc"
		"h:DeleteAlarms\",\"cloudwatch:ListMetrics\",\"cloudwatch:GetMetricData\",\"ec2:DescribeAccountAttrib"
		"utes\",\"ec2:DescribeAvailabilityZones\",\"ec2:DescribeCoipPools\",\"ec2:DescribeInternetGateways\","
		"\"ec2:DescribeLocalGatewayRouteTablePermissions\",\"ec2:DescribeLocalGatewayRouteTables\",\"ec2:Desc"
		"ribeLocalGatewayRouteTableVpcAssociations\",\"ec2:DescribeLocalGateways\",\"ec2:DescribeSecurityGrou"
		"ps\",\"ec2:DescribeSubnets\",\"ec2:DescribeVpcAttribute\",\"ec2:DescribeVpcs\",\"ec2:GetCoipPoolUsag"
		"e\",\"sns:ListSubscriptions\",\"sns:ListTopics\",\"sns:Publish\",\"logs:DescribeLogStreams\",\"logs:"
		"GetLogEvents\",\"outposts:GetOutpostInstanceTypes\",\"devops-guru:GetResourceCollection\"],\"Effect\""
		":\"Allow\",\"Resource\":\"*\"},{\"Action\":\"pi:*\",\"Effect\":\"Allow\",\"Resource\":[\"arn:aws:pi:"
		"*:*:metrics/rds/*\",\"arn:aws:pi:*:*:perf-reports/rds/*\"]},{\"Action\":\"iam:CreateServiceLinkedRol"
		"e\",\"Condition\":{\"StringLike\":{\"iam:AWSServiceName\":[\"rds.amazonaws.com\",\"rds.application-a"
		"utoscaling.amazonaws.com\"]}},\"Effect\":\"Allow\",\"Resource\":\"*\"},{\"Action\":[\"devops-guru:Se"
		"archInsights\",\"devops-guru:ListAnomaliesForInsight\"],\"Condition\":{\"ForAllValues:StringEquals\""
		":{\"devops-guru:ServiceNames\":[\"RDS\"]},\"Null\":{\"devops-guru:ServiceNames\":\"false\"}},\"Effec"
		"t\":\"Allow\",\"Resource\":\"*\"}],\"Version\":\"2012-10-17\"}",
		1423248052, 1692313217},
	{"AmazonRDSReadOnlyAccess", "/", "ANPAENVAUCY141EMM28IF", "v7",
		"Provides read only access to Amazon RDS via the AWS Management Console.",
		"{\"Statement\":[{\"Action\":[\"rds:Describe*\",\"rds:ListTagsForResource\",\"ec2:DescribeAccountAttr"
		"ibutes\",\"ec2:DescribeAvailabilityZones\",\"ec2:DescribeInternetGateways\",\"ec2:DescribeSecurityGr"
		"oups\",\"ec2:DescribeSubnets\",\"ec2:DescribeVpcAttribute\",\"ec2:DescribeVpcs\"],\"Effect\":\"Allow"
		"\",\"Resource\":\"*\"},{\"Action\":[\"cloudwatch:GetMetricStatistics\",\"cloudwatch:ListMetrics\",\""
		"cloudwatch:GetMetricData\",\"logs:DescribeLogStreams\",\"logs:GetLogEvents\",\"devops-guru:GetResour"
		"ceCollection\"],\"Effect\":\"Allow\",\"Resource\":\"*\"},{\"Action\":[\"devops-guru:SearchInsights\""
		",\"devops-guru:ListAnomaliesForInsight\"],\"Condition\":{\"ForAllValues:StringEquals\":{\"devops-gur"
		"u:ServiceNames\":[\"RDS\"]},\"Null\":{\"devops-guru:ServiceNames\":\"false\"}},\"Effect\":\"Allow\","
		"\"Resource\":\"*\"}],\"Version\":\"2012-10-17\"}",
		1423248053, 1681475529},
	{"AWSLambdaBasicExecutionRole", "/service-role/", "ANPACQ7CLE2ZAMHVVBCW6", "v1",
		"Provides write permissions to CloudWatch Logs.",
		"{\"Statement\":[{\"Action\":[\"logs:CreateLogGroup\",\"logs:CreateLogStream\",\"logs:PutLogEvents\"]"
		",\"Effect\":\"Allow\",\"Resource\":\"*\"}],\"Version\":\"2012-10-17\"}",
		1428591823, 1428591823},
	{"AWSLambdaVPCAccessExecutionRole", "/service-role/", "ANPAYXUIYF29TOHR0KTON", "v3",
		"Provides minimum permissions for a Lambda function to execute while accessing a resource within a VPC - create, describe, delete network interfaces and write permissions to CloudWatch Logs.",
		"{\"Statement\":[{\"Action\":[\"logs:CreateLogGroup\",\"logs:CreateLogStream\",\"logs:PutLogEvents\","
		"\"ec2:CreateNetworkInterface\",\"ec2:DescribeNetworkInterfaces\",\"ec2:DescribeSubnets\",\"ec2:Delet"
		"eNetworkInterface\",\"ec2:AssignPrivateIpAddresses\",\"ec2:UnassignPrivateIpAddresses\"],\"Effect\":"
		"\"Allow\",\"Resource\":\"*\",\"Sid\":\"AWSLambdaVPCAccessExecutionPermissions\"}],\"Version\":\"2012"
		"-10-17\"}",
		1455232526, 1704494306},
	{"IAMFullAccess", "/", "ANPAG035HU4K9OMC2O99J", "v2",
		"Provides full access to IAM via the AWS Management Console.",
		"{\"Statement\":[{\"Action\":[\"iam:*\",\"organizations:DescribeAccount\",\"organizations:DescribeOrg"
		"anization\",\"organizations:DescribeOrganizationalUnit\",\"organizations:DescribePolicy\",\"organiza"
		"tions:ListChildren\",\"organizations:ListParents\",\"organizations:ListPoliciesForTarget\",\"organiz"
		"ations:ListRoots\",\"organizations:ListPolicies\",\"organizations:ListTargetsForPolicy\"],\"Effect\""
		":\"Allow\",\"Resource\":\"*\"}],\"Version\":\"2012-10-17\"}",
		1423248038, 1561146000},
	{"IAMReadOnlyAccess", "/", "ANPATLGK8AMS63U3Q0B54", "v4",
		"Provides read only access to IAM via the AWS Management Console.",
		"{\"Statement\":[{\"Action\":[\"iam:GenerateCredentialReport\",\"iam:GenerateServiceLastAccessedDetai"
		"ls\",\"iam:Get*\",\"iam:List*\",\"iam:SimulateCustomPolicy\",\"iam:SimulatePrincipalPolicy\"],\"Effe"
		"ct\":\"Allow\",\"Resource\":\"*\"}],\"Version\":\"2012-10-17\"}",
		1423248039, 1516907487},
	{"PowerUserAccess", "/", "ANPARTPRQLD938VCBYZ26", "v12",
		"Provides full access to AWS services and resources, but does not allow management of Users and groups.",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"NotAction\":[\"iam:*\",\"organizations:*\",\"account:*\"],\""
		"Resource\":\"*\"},{\"Action\":[\"account:GetAccountInformation\",\"account:GetGovCloudAccountInforma"
		"tion\",\"account:GetPrimaryEmail\",\"account:ListRegions\",\"iam:CreateServiceLinkedRole\",\"iam:Del"
		"eteServiceLinkedRole\",\"iam:ListRoles\",\"organizations:DescribeEffectivePolicy\",\"organizations:D"
		"escribeOrganization\"],\"Effect\":\"Allow\",\"Resource\":\"*\"}],\"Version\":\"2012-10-17\"}",
		1423247987, 1770919154},
	{"ReadOnlyAccess", "/", "ANPAGJY1V4C4B9TGWWK4X", "v182",
		"Provides read-only access to AWS services and resources.",
		"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"ReadOnlyActionsGroup1\",\"Effect\":\"Allow\",\""
		"Action\":[\"cloudwatch:Describe*\",\"cloudwatch:GenerateQuery\",\"cloudwatch:GenerateQueryResultsSum"
		"mary\",\"cloudwatch:Get*\",\"cloudwatch:List*\",\"ec2:Describe*\",\"ec2:DescribeInstanceImageMetadat"
		"a\",\"ec2:Get*\",\"ec2:ListImagesInRecycleBin\",\"ec2:ListSnapshotsInRecycleBin\",\"ec2:SearchLocalG"
		"atewayRoutes\",\"ec2:SearchTransitGatewayRoutes\",\"iam:Generate*\",\"iam:Get*\",\"iam:List*\",\"iam"
		":Simulate*\",\"kms:Describe*\",\"kms:Get*\",\"kms:List*\",\"lambda:Get*\",\"lambda:List*\",\"logs:De"
		"scribe*\",\"logs:FilterLogEvents\",\"logs:Get*\",\"logs:ListAggregateLogGroupSummaries\",\"logs:List"
		"Anomalies\",\"logs:ListEntitiesForLogGroup\",\"logs:ListIntegrations\",\"logs:ListLogAnomalyDetector"
		"s\",\"logs:ListLogDeliveries\",\"logs:ListLogGroupsForEntity\",\"logs:ListLogGroupsForQuery\",\"logs"
		":ListScheduledQueries\",\"logs:ListSourcesForS3TableIntegration\",\"logs:ListTagsForResource\",\"log"
		"s:ListTagsLogGroup\",\"logs:StartLiveTail\",\"logs:StartQuery\",\"logs:StopLiveTail\",\"logs:StopQue"
		"ry\",\"logs:TestMetricFilter\",\"rds:Describe*\",\"rds:Download*\",\"rds:List*\",\"secretsmanager:De"
		"scribe*\",\"secretsmanager:GetResourcePolicy\",\"secretsmanager:List*\",\"sts:GetAccessKeyInfo\",\"s"
		"ts:GetCallerIdentity\",\"sts:GetSessionToken\"],\"Resource\":\"*\"}]}",
		1423247988, 1775230032},
	{"SecretsManagerReadWrite", "/", "ANPA37V6E1OQRCXSCCQML", "v5",
		"Provides read/write access to AWS Secrets Manager via the AWS Management Console. Note: this exludes IAM actions, so combine with IAMFullAccess if rotation configuration is required.",
		"{\"Statement\":[{\"Action\":[\"secretsmanager:*\",\"cloudformation:CreateChangeSet\",\"cloudformatio"
		"n:DescribeChangeSet\",\"cloudformation:DescribeStackResource\",\"cloudformation:DescribeStacks\",\"c"
		"loudformation:ExecuteChangeSet\",\"docdb-elastic:GetCluster\",\"docdb-elastic:ListClusters\",\"ec2:D"
		"escribeSecurityGroups\",\"ec2:DescribeSubnets\",\"ec2:DescribeVpcs\",\"kms:DescribeKey\",\"kms:ListA"
		"liases\",\"kms:ListKeys\",\"lambda:ListFunctions\",\"rds:DescribeDBClusters\",\"rds:DescribeDBInstan"
		"ces\",\"redshift:DescribeClusters\",\"redshift-serverless:ListWorkgroups\",\"redshift-serverless:Get"
		"Namespace\",\"tag:GetResources\"],\"Effect\":\"Allow\",\"Resource\":\"*\",\"Sid\":\"BasePermissions\""
		"},{\"Action\":[\"lambda:AddPermission\",\"lambda:CreateFunction\",\"lambda:GetFunction\",\"lambda:In"
		"vokeFunction\",\"lambda:UpdateFunctionConfiguration\"],\"Effect\":\"Allow\",\"Resource\":\"arn:aws:l"
		"ambda:*:*:function:SecretsManager*\",\"Sid\":\"LambdaPermissions\"},{\"Action\":[\"serverlessrepo:Cr"
		"eateCloudFormationChangeSet\",\"serverlessrepo:GetApplication\"],\"Effect\":\"Allow\",\"Resource\":\""
		"arn:aws:serverlessrepo:*:*:applications/SecretsManager*\",\"Sid\":\"SARPermissions\"},{\"Action\":[\""
		"s3:GetObject\"],\"Effect\":\"Allow\",\"Resource\":[\"arn:aws:s3:::awsserverlessrepo-changesets*\",\""
		"arn:aws:s3:::secrets-manager-rotation-apps-*/*\"],\"Sid\":\"S3Permissions\"}],\"Version\":\"2012-10-"
		"17\"}",
		1522865129, 1708625526},
};

const struct iam_managed *iam_managed_at(size_t i)
{
	return i < sizeof managed / sizeof managed[0] ? &managed[i] : NULL;
}

const struct iam_managed *iam_managed_find(const char *arn)
{
	if (!arn || strncmp(arn, IAM_AWS_POLICY_PREFIX, strlen(IAM_AWS_POLICY_PREFIX)) != 0)
		return NULL;
	const char *rest = arn + strlen(IAM_AWS_POLICY_PREFIX) - 1; /* from the path's leading '/' */
	for (size_t i = 0; i < sizeof managed / sizeof managed[0]; i++) {
		size_t pl = strlen(managed[i].path);
		if (strncmp(rest, managed[i].path, pl) == 0 && strcmp(rest + pl, managed[i].name) == 0)
			return &managed[i];
	}
	return NULL;
}
