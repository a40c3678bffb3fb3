/* api/iam_managed.c - the AWS managed policies haneul offers, as documents.
 *
 * Condensed from AWS's published versions: the statements about services
 * haneul does not have are kept where harmless (they match nothing here). */
#include <string.h>

#include "api/iam.h"

#define SLR_CONDITION(svc) \
	"\"Condition\":{\"StringEquals\":{\"iam:AWSServiceName\":[" svc "]}}"

const struct iam_managed_policy iam_managed_policies[] = {
	{ "AdministratorAccess", "/", "Provides full access to AWS services and resources.",
	  "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}" },
	{ "PowerUserAccess", "/", "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
	  "{\"Version\":\"2012-10-17\",\"Statement\":["
	  "{\"Effect\":\"Allow\",\"NotAction\":[\"iam:*\",\"organizations:*\",\"account:*\"],\"Resource\":\"*\"},"
	  "{\"Effect\":\"Allow\",\"Action\":[\"iam:CreateServiceLinkedRole\",\"iam:DeleteServiceLinkedRole\",\"iam:ListRoles\","
	  "\"organizations:DescribeOrganization\",\"account:ListRegions\",\"account:GetAccountInformation\"],\"Resource\":\"*\"}]}" },
	{ "ReadOnlyAccess", "/", "Provides read-only access to AWS services and resources.",
	  "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":["
	  "\"autoscaling:Describe*\",\"autoscaling:Get*\",\"cloudwatch:Describe*\",\"cloudwatch:Get*\",\"cloudwatch:List*\","
	  "\"ec2:Describe*\",\"ec2:Get*\",\"ec2:SearchTransitGatewayRoutes\",\"elasticloadbalancing:Describe*\","
	  "\"iam:Generate*\",\"iam:Get*\",\"iam:List*\",\"iam:Simulate*\",\"s3:Describe*\",\"s3:Get*\",\"s3:List*\","
	  "\"sts:GetCallerIdentity\"],\"Resource\":\"*\"}]}" },
	{ "AmazonEC2FullAccess", "/", "Provides full access to Amazon EC2 via the AWS Management Console.",
	  "{\"Version\":\"2012-10-17\",\"Statement\":["
	  "{\"Action\":\"ec2:*\",\"Effect\":\"Allow\",\"Resource\":\"*\"},"
	  "{\"Effect\":\"Allow\",\"Action\":\"elasticloadbalancing:*\",\"Resource\":\"*\"},"
	  "{\"Effect\":\"Allow\",\"Action\":\"cloudwatch:*\",\"Resource\":\"*\"},"
	  "{\"Effect\":\"Allow\",\"Action\":\"autoscaling:*\",\"Resource\":\"*\"},"
	  "{\"Effect\":\"Allow\",\"Action\":\"iam:CreateServiceLinkedRole\",\"Resource\":\"*\","
	  SLR_CONDITION("\"autoscaling.amazonaws.com\",\"ec2scheduled.amazonaws.com\",\"elasticloadbalancing.amazonaws.com\","
			"\"spot.amazonaws.com\",\"spotfleet.amazonaws.com\",\"transitgateway.amazonaws.com\"") "}]}" },
	{ "AmazonEC2ReadOnlyAccess", "/", "Provides read only access to Amazon EC2 via the AWS Management Console.",
	  "{\"Version\":\"2012-10-17\",\"Statement\":["
	  "{\"Effect\":\"Allow\",\"Action\":\"ec2:Describe*\",\"Resource\":\"*\"},"
	  "{\"Effect\":\"Allow\",\"Action\":\"ec2:GetSecurityGroupsForVpc\",\"Resource\":\"*\"},"
	  "{\"Effect\":\"Allow\",\"Action\":\"elasticloadbalancing:Describe*\",\"Resource\":\"*\"},"
	  "{\"Effect\":\"Allow\",\"Action\":[\"cloudwatch:ListMetrics\",\"cloudwatch:GetMetricStatistics\",\"cloudwatch:Describe*\"],\"Resource\":\"*\"},"
	  "{\"Effect\":\"Allow\",\"Action\":\"autoscaling:Describe*\",\"Resource\":\"*\"}]}" },
	{ "AmazonS3FullAccess", "/", "Provides full access to all buckets via the AWS Management Console.",
	  "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:*\",\"s3-object-lambda:*\"],\"Resource\":\"*\"}]}" },
	{ "ElasticLoadBalancingFullAccess", "/", "Provides full access to Amazon ElasticLoadBalancing, and limited access to other services necessary to provide ElasticLoadBalancing features.",
	  "{\"Version\":\"2012-10-17\",\"Statement\":["
	  "{\"Effect\":\"Allow\",\"Action\":\"elasticloadbalancing:*\",\"Resource\":\"*\"},"
	  "{\"Effect\":\"Allow\",\"Action\":[\"ec2:DescribeAccountAttributes\",\"ec2:DescribeAddresses\",\"ec2:DescribeInternetGateways\","
	  "\"ec2:DescribeSecurityGroups\",\"ec2:DescribeSubnets\",\"ec2:DescribeVpcs\",\"ec2:DescribeVpcClassicLink\","
	  "\"ec2:DescribeInstances\",\"ec2:DescribeNetworkInterfaces\",\"ec2:DescribeClassicLinkInstances\","
	  "\"ec2:DescribeRouteTables\",\"ec2:DescribeCoipPools\",\"ec2:GetCoipPoolUsage\",\"ec2:DescribeVpcPeeringConnections\","
	  "\"cognito-idp:DescribeUserPoolClient\"],\"Resource\":\"*\"},"
	  "{\"Effect\":\"Allow\",\"Action\":\"iam:CreateServiceLinkedRole\",\"Resource\":\"*\","
	  SLR_CONDITION("\"elasticloadbalancing.amazonaws.com\"") "},"
	  "{\"Effect\":\"Allow\",\"Action\":\"arc-zonal-shift:*\",\"Resource\":\"arn:aws:elasticloadbalancing:*:*:loadbalancer/*\"}]}" },
	{ "AutoScalingFullAccess", "/", "Provides full access to Auto Scaling.",
	  "{\"Version\":\"2012-10-17\",\"Statement\":["
	  "{\"Effect\":\"Allow\",\"Action\":\"autoscaling:*\",\"Resource\":\"*\"},"
	  "{\"Effect\":\"Allow\",\"Action\":\"cloudwatch:PutMetricAlarm\",\"Resource\":\"*\"},"
	  "{\"Effect\":\"Allow\",\"Action\":[\"ec2:DescribeAccountAttributes\",\"ec2:DescribeAvailabilityZones\",\"ec2:DescribeImages\","
	  "\"ec2:DescribeInstanceAttribute\",\"ec2:DescribeInstances\",\"ec2:DescribeKeyPairs\",\"ec2:DescribeLaunchTemplateVersions\","
	  "\"ec2:DescribePlacementGroups\",\"ec2:DescribeSecurityGroups\",\"ec2:DescribeSpotInstanceRequests\",\"ec2:DescribeSubnets\","
	  "\"ec2:DescribeVpcClassicLink\"],\"Resource\":\"*\"},"
	  "{\"Effect\":\"Allow\",\"Action\":[\"elasticloadbalancing:DescribeLoadBalancers\",\"elasticloadbalancing:DescribeTargetGroups\"],\"Resource\":\"*\"},"
	  "{\"Effect\":\"Allow\",\"Action\":\"iam:CreateServiceLinkedRole\",\"Resource\":\"*\","
	  SLR_CONDITION("\"autoscaling.amazonaws.com\"") "}]}" },
};

const size_t iam_n_managed_policies = sizeof(iam_managed_policies) / sizeof(iam_managed_policies[0]);

const struct iam_managed_policy *iam_managed_find(const char *arn)
{
	static const char pfx[] = "arn:aws:iam::aws:policy";
	size_t i, plen = sizeof(pfx) - 1;

	if (strncmp(arn, pfx, plen) != 0)
		return NULL;
	for (i = 0; i < iam_n_managed_policies; i++) {
		const struct iam_managed_policy *p = &iam_managed_policies[i];
		size_t pl = strlen(p->path);

		if (strncmp(arn + plen, p->path, pl) == 0 && strcmp(arn + plen + pl, p->name) == 0)
			return p;
	}
	return NULL;
}
