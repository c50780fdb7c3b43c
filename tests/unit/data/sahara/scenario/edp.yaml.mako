edp_jobs_flow:
  spark_pi:
    - type: Spark
      main_lib:
        type: database
        source: jobs/pi.py
      configs:
        edp.java.main_class: main
        spark.executor.memory: 512m
      args:
        - 4
  pig_job:
    - type: Pig
      input_datasource:
        type: swift
        source: jobs/input.txt
      output_datasource:
        type: swift
        destination: edp-output
      main_lib:
        type: swift
        source: jobs/example.pig
