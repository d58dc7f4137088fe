//! A tower `Service` stack that reverse-proxies HTTP to backend members with
//! Apache mod_proxy_balancer's `byrequests` weighted round-robin.
