"""Every cloud client one run needs, made on first use: Alibaba Cloud through its official SDKs,
AWS through ``boto3``, which is imported only when something configured lives in AWS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from renewer.clouds.alibaba import AlibabaClients, AlibabaKms
from renewer.clouds.targets import KmsTarget
from renewer.credentials import Credentials
from renewer.run.retry import Caller
from renewer.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from renewer.clouds.aws import AwsClients, AwsSecrets


class Clouds:
    def __init__(
        self, settings: Settings, credentials: Credentials | None, caller_for: Callable[[str], Caller]
    ) -> None:
        self.alibaba = AlibabaClients(settings, credentials, lambda region: caller_for(f"alibaba:{region}"))
        self._caller_for = caller_for
        self._aws: AwsClients | None = None

    @property
    def aws(self) -> AwsClients:
        if self._aws is None:
            from renewer.clouds.aws import AwsClients  # boto3 only for configurations that use AWS

            self._aws = AwsClients(self._caller_for)
        return self._aws

    def kms(self, cloud: str, region: str) -> KmsTarget:
        return self.aws.kms(region) if cloud == "aws" else self.alibaba.kms(region)

    def alibaba_kms(self, region: str) -> AlibabaKms:
        return self.alibaba.kms(region)

    def alibaba_secrets(self, region: str) -> AlibabaKms:
        return self.alibaba.kms(region)  # KMS Secrets Manager lives in the KMS API

    def aws_secrets(self, region: str) -> AwsSecrets:
        return self.aws.secrets(region)

    def cms(self, region: str) -> Any:
        return self.alibaba.cms(region)
