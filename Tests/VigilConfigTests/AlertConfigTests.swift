import Foundation
import Testing
import VigilAlerts
import VigilServer

@Suite("Alert rules and notifiers in the config")
struct AlertConfigTests {
    func rule(_ body: String) -> String {
        "alerts:\n  rules:\n    - name: R\n      selector: temp\n" + body
    }

    @Test func aValidRuleSetLoadsWithDefaults() throws {
        let config = try load(rule("      threshold: \"> 80\"\n      clear: 75\n      for: 2m\n"))
        let rules = config.alerts.rules
        #expect(rules.count == 1 && rules[0].name == "R" && rules[0].severity == "warning")
        #expect(rules[0].condition.summary == "> 80 (clear 75)")
        #expect(rules[0].pendingFor == .seconds(120))
        #expect(config.alerts.evaluationInterval == .seconds(5))
        #expect(config.alerts.effectiveRules.count == 1 + SelfAlertRules.all.count)
        #expect(try load("alerts: {self_alerts: false}\n").alerts.effectiveRules.isEmpty)
    }

    @Test func ruleErrorsNameTheirPlace() {
        #expect(loadError(rule("")) == "DIR/config.yaml:3:7: alerts.rules[0]: a rule needs one condition: threshold, outside, stale, rate or delta")
        #expect(loadError(rule("      threshold: \"> 1\"\n      stale: 5m\n"))
                == "DIR/config.yaml:6:7: alerts.rules[0]: a rule has one condition; found threshold and stale")
        #expect(loadError(rule("      threshold: \"above 80\"\n"))?.hasPrefix("DIR/config.yaml:5:7: alerts.rules[0].threshold: expected an operator and a number") == true)
        #expect(loadError(rule("      threshold: \"> 80\"\n      clear: 90\n"))
                == "DIR/config.yaml:6:7: alerts.rules[0].clear: 90 must be at or below the threshold 80")
        #expect(loadError(rule("      outside: [30, 10]\n"))?.hasPrefix("DIR/config.yaml:5:7: alerts.rules[0].outside: expected [low, high]") == true)
        #expect(loadError(rule("      threshold: \"> 1\"\n      annotations:\n        summary: \"{{ $valu }}\"\n"))?
                    .hasPrefix("DIR/config.yaml:7:9: alerts.rules[0].annotations.summary: unknown template variable '$valu'") == true)
        #expect(loadError("alerts:\n  rules:\n    - name: R\n      selector: 'temp{a=}'\n      threshold: \"> 1\"\n")?
                    .hasPrefix("DIR/config.yaml:4:17: alerts.rules[0].selector:") == true)
        #expect(loadError(rule("      threshold: \"> 1\"\n      fro: 1m\n")) == "DIR/config.yaml:6:7: unknown key 'fro' in alerts.rules[0] (did you mean 'for'?)")
        #expect(loadError(rule("      threshold: \"> 1\"\n") + "    - name: R\n      selector: x\n      stale: 1m\n")?
                    .contains("a rule named 'R' is already defined") == true)
    }

    @Test func notifierAndRouteErrors() {
        #expect(loadError("alerts:\n  notifiers:\n    - {name: n, type: mqtt, broker: nope}\n")?
                    .hasPrefix("DIR/config.yaml:3:7: alerts.notifiers[0].broker: no MQTT broker named 'nope'") == true
                || loadError("alerts:\n  notifiers:\n    - {name: n, type: mqtt, broker: nope}\n")?.contains("no MQTT broker named 'nope'") == true)
        #expect(loadError("alerts:\n  notifiers:\n    - {name: n, type: webhook, url: ftp://x}\n")?.contains("expected an http:// or https:// URL") == true)
        #expect(loadError("alerts:\n  notifiers:\n    - {name: n, type: pager}\n")?.contains("type") == true)
        #expect(loadError("alerts:\n  notifiers:\n    - {name: hook, type: webhook, url: \"http://127.0.0.1:1/\"}\n  routes:\n    - {notifiers: [hok]}\n")?
                    .contains("no notifier named 'hok' (did you mean 'hook'?)") == true)
    }

    @Test func secretsAreRedactedAndAnEmptySecretMeansNone() throws {
        let config = try load("alerts:\n  notifiers:\n    - {name: a, type: webhook, url: \"http://127.0.0.1:1/\", secret: hunter2}\n"
                              + "    - {name: b, type: webhook, url: \"http://127.0.0.1:1/\", secret: \"\"}\n")
        guard case .webhook(let a) = config.alerts.notifiers[0].kind, case .webhook(let b) = config.alerts.notifiers[1].kind else {
            Issue.record("not webhooks"); return
        }
        #expect(a.secret?.value == "hunter2" && "\(a.secret!)" == "<redacted>" && !"\(a)".contains("hunter2"))
        #expect(b.secret == nil)
    }
}
