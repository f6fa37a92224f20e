#!/usr/bin/env bash
# Makes sure nmap is installed, for the scan/nmap tests and the port-scan
# benchmark. It is sourced by scripts/test.sh (and may be run on its own);
# apt-get runs only when nmap is missing, and its package lists are fetched
# first only when the machine has none.
if ! command -v nmap >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  fi
  if ! $sudo apt-get install -y -qq nmap >/dev/null 2>&1; then
    $sudo apt-get update -qq && $sudo apt-get install -y -qq nmap
  fi
fi
