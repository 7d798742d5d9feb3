import OrderdConfig
import OrderdStore
import OrderdSupport
import Testing
import TestSupport

/// Which task kinds an order gets, and each kind's policy, from the configuration.
@Suite struct TaskKindTests {
    @Test func aTaskWithoutItsOwnTimeoutTakesTheExecutors() throws {
        let configuration = try ConfigLoader.parse(text: """
            [task.sms]
            driver = http
            gateway_url = http://127.0.0.1:9000/sms
            timeout = 250ms
            [task.webhook]
            url = https://shop.example/hooks/orders
            secret_file = /etc/orderd/webhook.secret
            """, file: "/x.ini")
        #expect(configuration.policy(for: .webhook).timeout == configuration.executor.taskTimeout)
        #expect(configuration.policy(for: .sms).timeout == .milliseconds(250))
        #expect(configuration.enabledTaskKinds == [.sms, .webhook, .audit, .stats])
    }

    @Test func withoutAWebhookURLNoWebhookTaskIsWritten() throws {
        let configuration = try ConfigLoader.parse(text: "[task.stats]\nenabled = false\n", file: "/x.ini")
        #expect(configuration.enabledTaskKinds == [.sms, .audit])
    }

    /// Tables indexed by kind (the task-duration histograms) rely on `index` being the kind's place in `allCases`,
    /// and dictionaries keyed by kind on equal kinds hashing alike and different ones apart.
    @Test func indexIsThePlaceInAllCasesAndTheHash() {
        #expect(TaskKind.allCases.map(\.index) == Array(TaskKind.allCases.indices))
        #expect(Set(TaskKind.allCases.map(\.hashValue)).count == TaskKind.allCases.count)
        #expect(TaskKind.allCases.allSatisfy { TaskKind(rawValue: $0.rawValue)!.hashValue == $0.hashValue })
    }
}
