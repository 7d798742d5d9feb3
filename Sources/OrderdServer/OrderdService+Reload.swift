import Logging
import OrderdConfig
import OrderdFastCGI
import OrderdFollowUps
import OrderdHTTP
import OrderdOperations
import OrderdStore
import OrderdSupport

/// What a reload (SIGHUP) can change without a restart, and how.
struct LiveSettings {
    let logSettings: LogSettings
    let server: FastCGIServer
    let edge: HTTPEdge
    let keyring: APIKeyring
    let parts: OrderdService.Parts

    /// The configuration that takes effect when `next` is loaded over `running`: `next`, except for the keys
    /// the schema marks restart-only, which keep their running value. Also returns the keys that changed and the ones held
    /// back. (`task.webhook.url` turned on or off is live: new orders get a webhook task or not, and pending
    /// webhook tasks wait, untouched, while no handler runs them.)
    static func merge(running: OrderdConfiguration, next: OrderdConfiguration)
        -> (effective: OrderdConfiguration, changed: [String], heldBack: [String])
    {
        var effective = next
        var changed: [String] = []
        var heldBack: [String] = []
        for key in ConfigSchema.keys where key.render(running) != key.render(next) {
            if key.reload == .restart {
                _ = key.assign(key.render(running), &effective)
                heldBack.append(key.fullName)
            } else {
                changed.append(key.fullName)
            }
        }
        return (effective, changed, heldBack)
    }

    /// Puts `configuration` in force for everything that starts from now on. Requests and tasks in flight
    /// finish under the settings they started with. Returns the HTTP clients it had to make (those in
    /// `posters` whose settings did not change are used again).
    func apply(
        _ configuration: OrderdConfiguration, credentials: OutgoingCredentials, posters existing: [HTTPPoster], logger: Logger
    ) -> [HTTPPoster] {
        logSettings.apply(configuration.log)
        server.requestTimeout = configuration.server.requestTimeout
        // Live, so that a peer taken off the list is refused from its next connection on without a restart
        // (connections already open stay until they close).
        server.allowFrom = configuration.server.allowFrom
        edge.maxBodyBytes = configuration.server.maxBodyBytes
        edge.logRequests = configuration.log.requests
        keyring.ordersPerMinute = configuration.auth.ordersPerMinute
        parts.busyTimeout.value = configuration.store.busyTimeout
        parts.slowRequest.value = configuration.log.slowRequest
        let (handlers, posters) = OrderdService.makeHandlers(
            configuration, credentials: credentials, auditLog: parts.auditLog, statistics: parts.statistics, logger: logger,
            reusing: existing)
        parts.followUps.reconfigure(configuration, handlers: handlers)
        return posters
    }
}

extension OrderdService {
    /// Re-reads the file and the secret files it names (`OutgoingCredentials`: a rotated gateway token or webhook
    /// secret takes effect here, with no key changed); on any problem logs every one of them (the same lines as
    /// `check-config`) and keeps the running configuration and secrets. Returns the configuration in force
    /// afterwards.
    func reload(running: OrderdConfiguration, live: LiveSettings, posters: inout [HTTPPoster]) -> OrderdConfiguration {
        reloadKeys(running.auth.keysFile, into: live.keyring)
        // logrotate renames the audit file and then reloads: the next lines go to a new file at the path.
        if let failure = live.parts.auditLog.reopen() {
            logger.error("audit file not reopened; lines still go to the old file", metadata: ["problem": "\(failure)"])
        }
        let next: OrderdConfiguration
        do throws(ConfigError) {
            next = try ConfigLoader.load(path: configPath)
        } catch {
            for problem in error.problems {
                logger.error("reload refused: configuration not valid", metadata: ["problem": "\(problem.message)"])
            }
            logger.error("reload refused; the running configuration stays in force", metadata: [
                "config": "\(configPath)", "problems": "\(error.problems.count)",
            ])
            return running
        }
        let (effective, changed, heldBack) = LiveSettings.merge(running: running, next: next)
        let credentials: OutgoingCredentials
        do throws(SecretFile.Failure) {
            credentials = try OutgoingCredentials.load(effective, environment: environment)
        } catch {
            // Names the key and the file, never what is in it.
            logger.error("reload refused: a secret file cannot be used", metadata: ["problem": "\(error.description)"])
            logger.error("reload refused; the running configuration stays in force", metadata: [
                "config": "\(configPath)", "problems": "1",
            ])
            return running
        }
        for key in heldBack {
            logger.warning("reload: this key needs a restart; the running value stays in force", metadata: ["key": "\(key)"])
        }
        // Logged under the old log level, so a reload that raises it still says what it did.
        logger.notice("configuration reloaded", metadata: [
            "config": "\(configPath)", "changed": "\(changed.joined(separator: ","))",
            "needs_restart": "\(heldBack.joined(separator: ","))", "digest": "\(effective.digest)",
            "secrets_reread": "\(credentials.keys.joined(separator: ","))",
        ])
        // Replaced HTTP clients may still serve tasks that started before: they are closed at the stop.
        posters += live.apply(effective, credentials: credentials, posters: posters, logger: logger)
        live.parts.running.replace(with: effective, at: WallClock.unixMillis())
        return effective
    }
}

extension OrderdService {
    /// The keys file is read again at every reload, whatever the INI says (its path is restart-only): that is
    /// how a key is revoked without a restart. A file that no longer reads or parses keeps the keys in force.
    func reloadKeys(_ reference: String, into keyring: APIKeyring) {
        do throws(APIKeyFile.Failure) {
            let keys = try APIKeyFile.load(reference, environment: environment)
            keyring.replace(with: keys)
            logger.notice("API keys reloaded", metadata: ["keys": "\(keys.count)"])
        } catch {
            logger.error("API keys not reloaded; the keys in force stay", metadata: ["problem": "\(error.description)"])
        }
    }
}
