# Akka.Sync gateway node. Build: docker build -t akka-sync .   Run one node: docker run -p 8000:8000 akka-sync
# The image defaults to the embedded one-node SQLite setup (data in /data); a cluster sets Persistence__* and
# Cluster__* (deploy/kubernetes/akka-sync.yaml, docs/operations.md).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props akka.hocon ./
COPY src/ src/
RUN dotnet publish src/Gateway/Akka.Sync.Gateway.csproj -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
RUN mkdir -p /data && chown app:app /data
# Remoting stays on loopback for the one-node default; a cluster binds 0.0.0.0 and advertises Cluster__PublicHost.
ENV ASPNETCORE_URLS=http://0.0.0.0:8000 \
    Cluster__Port=4053 \
    Persistence__DataDirectory=/data
EXPOSE 8000 4053
VOLUME /data
USER app
# SIGTERM (docker stop, Kubernetes) runs CoordinatedShutdown: the node leaves the cluster and hands its
# conversations over before it exits; give it the grace period (terminationGracePeriodSeconds) to do so.
ENTRYPOINT ["dotnet", "Akka.Sync.Gateway.dll"]
