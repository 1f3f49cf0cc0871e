"""The image cache under `.images`: where a picture can come from (`sources`), what a task
is and whether it needs a transfer (`tasks`), the URL policy and safe downloads (`urlpolicy`,
`fetch`), checking and converting bytes (`codec`), atomic storage (`store`), the transfer
pool (`transfer`), ffmpeg frames (`frames`), backoff (`retry`) and cleanup decisions
(`cleanup`)."""
