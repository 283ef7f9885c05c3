"""The embedded S3 destination: AWS's object layout in the data directory's local bucket store.

``LocalBucketSink(store)`` writes each flow log's objects to ``<data-dir>/s3/<bucket>/<key>``
exactly where AWS would put them (``s3_common.py``), atomically, with ACL
``bucket-owner-full-control``. A missing bucket is AWS's ``Access error`` (the delivery service
cannot write): the objects wait in the spool until the bucket exists again. So is a key the store
cannot hold (a prefix with ``..``, which CreateFlowLogs accepts as AWS does, cannot be a folder path):
that flow log alone is FAILED, the run goes on delivering the others (issue 12).
"""

from __future__ import annotations

from typing import Any

from vpcflow.core.errors import ApiError, DeliveryFailedError
from vpcflow.dataplane.sinks.base import ACCESS_ERROR, UNKNOWN_ERROR
from vpcflow.dataplane.sinks.s3_common import S3Object, S3ObjectSink
from vpcflow.storage.bucketstore import BucketStore


class LocalBucketSink(S3ObjectSink):
    """S3-layout files into a :class:`BucketStore`."""

    sink_name = "local-bucket"

    def __init__(self, store: BucketStore, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store

    def _put(self, obj: S3Object) -> None:
        if not self.store.bucket_exists(obj.bucket):
            raise DeliveryFailedError(f"bucket {obj.bucket} does not exist", sink=self.sink_name,
                                      destination=self._destination(obj), aws_message=ACCESS_ERROR)
        try:
            self.store.put_object(obj.bucket, obj.key, obj.data, content_type=obj.content_type,
                                  acl="bucket-owner-full-control")
        except ApiError as e:  # the store refuses the key or bucket name: this destination cannot be written
            raise DeliveryFailedError(f"the local bucket store cannot hold this object: {e.message}",
                                      sink=self.sink_name, destination=self._destination(obj),
                                      aws_message=ACCESS_ERROR) from e
        except OSError as e:
            raise DeliveryFailedError(f"cannot write the object ({e})", sink=self.sink_name,
                                      destination=self._destination(obj), aws_message=UNKNOWN_ERROR) from e
