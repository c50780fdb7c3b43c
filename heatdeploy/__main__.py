from heatdeploy.cli.main import run

run()
