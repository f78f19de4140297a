// Command omp compiles .omp pipelines to task graphs and runs them, on an
// embedded bus or on RabbitMQ workers.
package main

import "os"

func main() { os.Exit(int(Main())) }
