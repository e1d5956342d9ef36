from relier.cli import main

main()
