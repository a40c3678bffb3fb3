/* api/stubs.c - not-yet-implemented services (see stubs.h). */
#include "api/stubs.h"

const struct api_service ec2_stub_service = {
	.name = "ec2", .prefix = "ec2", .version = "2016-11-15",
	.xmlns = "http://ec2.amazonaws.com/doc/2016-11-15/", .proto = API_PROTO_EC2,
};

const struct api_service elbv2_stub_service = {
	.name = "elasticloadbalancing", .prefix = "elasticloadbalancing", .version = "2015-12-01",
	.xmlns = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/", .proto = API_PROTO_QUERY,
};

const struct api_service autoscaling_stub_service = {
	.name = "autoscaling", .prefix = "autoscaling", .version = "2011-01-01",
	.xmlns = "http://autoscaling.amazonaws.com/doc/2011-01-01/", .proto = API_PROTO_QUERY,
};

const struct api_service s3_stub_service = {
	.name = "s3", .prefix = "s3", .version = "2006-03-01",
	.xmlns = "http://s3.amazonaws.com/doc/2006-03-01/", .proto = API_PROTO_REST,
};
