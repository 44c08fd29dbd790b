//! Discovery as daprd does it: gRPC reflection (v1alpha, which daprd uses, and v1) listing
//! exactly the services a socket serves, plus `grpc.health.v1`.

use tonic::service::Routes;

/// Adds reflection (v1alpha and v1, advertising exactly `services`) and health to `routes`.
pub async fn with_discovery(
    mut routes: tonic::service::RoutesBuilder,
    services: &[&'static str],
) -> Routes {
    let mut reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    let mut reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    let (health, health_service) = tonic_health::server::health_reporter();
    for s in services.iter().copied().chain(["grpc.health.v1.Health"]) {
        reflection = reflection.with_service_name(s);
        reflection_v1 = reflection_v1.with_service_name(s);
        health
            .set_service_status(s, tonic_health::ServingStatus::Serving)
            .await;
    }
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    routes.add_service(health_service);
    // Building fails only on a malformed descriptor set; ours are generated at build time
    // and checked by every discovery test, so a failure here is logged, not fatal.
    match reflection.build_v1alpha() {
        Ok(s) => {
            routes.add_service(s);
        }
        Err(e) => tracing::error!("reflection v1alpha unavailable: {e}"),
    }
    match reflection_v1.build_v1() {
        Ok(s) => {
            routes.add_service(s);
        }
        Err(e) => tracing::error!("reflection v1 unavailable: {e}"),
    }
    routes.routes()
}
