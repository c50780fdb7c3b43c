from heatdeploy.cli import run

run()
