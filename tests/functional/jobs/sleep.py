"""A job that runs until it is cancelled."""

import time

from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("sleep").getOrCreate()
spark.sparkContext.parallelize(range(2), 2).map(lambda x: time.sleep(600)).collect()
